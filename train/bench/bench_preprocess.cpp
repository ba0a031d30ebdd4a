// rsclip bench preprocess: images per CPU-second of decode + transform on one thread, the
// encoded files held in memory. scripts/bench_image.sh runs it beside PIL + open_clip's preprocess on the
// same files and prints the ratio.
#include <cstdio>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iterator>
#include <vector>

#include "core/base/error.h"
#include "data/image/image_decode.h"
#include "data/image/transforms.h"
#include "train/cli/command.h"

namespace rsclip::cli::bench_preprocess_command {

struct BenchArgs {
  std::vector<std::string> files;
  std::string transform = "eval";
  int size = 224;
  double seconds = 2.0;
  int jpeg_min_side = 0;
  bool fast_resize = false;
};

// CPU time of this thread: on a shared machine wall time measures the other processes too.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void run(const BenchArgs& a) {
  if (a.files.empty()) throw Error("no images given", "bench preprocess", "pass image files");
  if (a.transform != "eval" && a.transform != "train")
    throw Error("--transform must be eval or train", "bench preprocess");
  std::vector<std::vector<std::uint8_t>> blobs;
  for (const auto& f : a.files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw Error("cannot read", f);
    blobs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  data::PreprocessConfig cfg;
  cfg.size = a.size;
  data::AugmentConfig aug;
  aug.fast_resize = a.fast_resize;
  auto transform = a.transform == "eval" ? data::make_eval_transform(cfg) : data::make_train_transform(cfg, aug);
  data::DecodeOptions opts;
  opts.jpeg_min_side = a.jpeg_min_side;
  std::vector<float> out(3 * static_cast<std::size_t>(a.size) * a.size);
  // The eval transform reads the image in its PIL mode (exact path); train takes RGB.
  data::DecodedImage native;
  cv::Mat rgb;
  double decode_s = 0, transform_s = 0;
  std::int64_t count = 0;
  const auto once = [&](std::size_t i) {
    const double t0 = thread_seconds();
    if (a.transform == "eval")
      data::decode_image(blobs[i], native, opts);
    else
      data::decode_image(blobs[i], rgb, opts);
    const double t1 = thread_seconds();
    if (a.transform == "eval")
      transform->apply(native, static_cast<std::uint64_t>(count), out.data());
    else
      transform->apply(rgb, static_cast<std::uint64_t>(count), out.data());
    const double t2 = thread_seconds();
    return std::pair{t1 - t0, t2 - t1};
  };
  for (std::size_t i = 0; i < blobs.size(); ++i) once(i);  // warm-up: buffers, kernel caches
  while (decode_s + transform_s < a.seconds) {
    for (std::size_t i = 0; i < blobs.size(); ++i, ++count) {
      const auto [d, t] = once(i);
      decode_s += d;
      transform_s += t;
    }
  }
  const double total = decode_s + transform_s;
  std::printf(
      "{\"impl\": \"rsclip\", \"transform\": \"%s\", \"files\": %zu, \"images\": %lld, \"images_per_s\": %.1f, "
      "\"decode_ms\": %.4f, \"transform_ms\": %.4f}\n",
      a.transform.c_str(), blobs.size(), static_cast<long long>(count), count / total, 1e3 * decode_s / count,
      1e3 * transform_s / count);
}

const Command reg("bench preprocess", [](CLI::App& cmd) {
  cmd.description("Single-thread images/s of decode + eval (or train) transform on in-memory files (JSON line)");
  auto a = std::make_shared<BenchArgs>();
  cmd.add_option("files", a->files, "image files")->required();
  cmd.add_option("--transform", a->transform, "eval or train")->capture_default_str();
  cmd.add_option("--size", a->size, "output side")->capture_default_str();
  cmd.add_option("--seconds", a->seconds, "minimum CPU seconds timed")->capture_default_str();
  cmd.add_flag("--fast-resize", a->fast_resize, "train: OpenCV bilinear crop+resize (augment.fast_resize)");
  cmd.add_option("--jpeg-min-side", a->jpeg_min_side, "DCT-domain JPEG downscaling (0: off, PIL-exact)")
      ->capture_default_str();
  cmd.callback([a] { run(*a); });
});

}  // namespace rsclip::cli::bench_preprocess_command
