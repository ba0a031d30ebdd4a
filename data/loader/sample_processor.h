// What the loader's worker threads do to one accepted sample: turn its image bytes into a
// [3, S, S] float image and its caption into `context_length` token ids, written straight
// into the batch's memory. The loader is independent of how (decode + train/eval transform
// + tokenizer for CLIP, see clip_processor.h); each worker thread gets its own instance.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "data/shards/faults.h"
#include "data/shards/webdataset.h"

namespace rsclip::data {

class SampleProcessor {
 public:
  virtual ~SampleProcessor() = default;
  // Writes image[3 * S * S] and tokens[context_length]. `seed` is the sample's own random
  // seed (a function of the loader seed, epoch, rank, stream and the sample's position, never
  // of thread timing). Returns the fault that rejects the sample (undecodable_image,
  // oversized_image), nullopt when the row was written. Other exceptions are bugs and stop
  // the loader.
  virtual std::optional<Fault> process(const Sample& sample, std::uint64_t seed, float* image,
                                       std::int64_t* tokens) = 0;
};

struct ProcessorSpec {
  int image_size = 224;
  int context_length = 77;
  std::function<std::unique_ptr<SampleProcessor>()> make;  // called once per worker thread
};

}  // namespace rsclip::data
