#include "data/loader/clip_processor.h"

#include <time.h>

#include <memory>

#include "data/image/image_decode.h"
#include "data/image/transforms.h"
#include "data/text/tokenizer.h"

namespace rsclip::data {
namespace {

// Stage timings count this thread's CPU time, not wall time: on a loaded machine a worker
// that is descheduled mid-stage would otherwise charge the wait to the stage.
std::int64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

class ClipProcessor : public SampleProcessor {
 public:
  ClipProcessor(std::shared_ptr<const Tokenizer> tokenizer, std::unique_ptr<ImageTransform> transform,
                DecodeOptions decode, ProcessorTimings* timings)
      : tokenizer_(std::move(tokenizer)), transform_(std::move(transform)), decode_(decode), timings_(timings) {}

  std::optional<Fault> process(const Sample& sample, std::uint64_t seed, float* image, std::int64_t* tokens) override {
    std::int64_t t = timings_ ? thread_cpu_ns() : 0;
    try {
      decode_image(sample.image, rgb_, decode_);
    } catch (const ImageError& e) {
      return e.kind() == ImageError::Kind::too_large ? Fault::oversized_image : Fault::undecodable_image;
    }
    const auto lap = [&](std::atomic<std::int64_t>& total) {
      const std::int64_t now = thread_cpu_ns();
      total += now - t;
      t = now;
    };
    if (timings_) lap(timings_->decode_ns);
    transform_->apply(rgb_, seed, image);
    if (timings_) lap(timings_->transform_ns);
    tokenizer_->encode(sample.text, tokens);
    if (timings_) lap(timings_->tokenize_ns), ++timings_->samples;
    return std::nullopt;
  }

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::unique_ptr<ImageTransform> transform_;
  DecodeOptions decode_;
  ProcessorTimings* timings_;
  cv::Mat rgb_;  // reused: no per-sample allocation once it has grown to the largest image
};

}  // namespace

ProcessorSpec clip_processor(const DataConfig& config, bool train, ProcessorTimings* timings) {
  std::shared_ptr<const Tokenizer> tokenizer = make_tokenizer(config.tokenizer);
  // Build one transform now so that bad settings fail here, not in a worker thread.
  const auto probe =
      train ? make_train_transform(config.preprocess, config.augment) : make_eval_transform(config.preprocess);
  DecodeOptions decode;
  if (train) decode.jpeg_min_side = config.augment.jpeg_min_side;
  ProcessorSpec spec;
  spec.image_size = probe->size();
  spec.context_length = tokenizer->context_length();
  const PreprocessConfig preprocess = config.preprocess;
  const AugmentConfig augment = config.augment;
  spec.make = [tokenizer, preprocess, augment, train, decode, timings]() -> std::unique_ptr<SampleProcessor> {
    auto transform = train ? make_train_transform(preprocess, augment) : make_eval_transform(preprocess);
    return std::make_unique<ClipProcessor>(tokenizer, std::move(transform), decode, timings);
  };
  return spec;
}

}  // namespace rsclip::data
