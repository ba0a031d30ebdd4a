// The loader's sample processor for CLIP training and evaluation: decode the image bytes
// (data/image/image_decode.h; PIL-equal, or downscaled in the DCT domain when augment.jpeg_min_side
// asks for the fast training path), apply the train or eval transform (data/image/transforms.h) into
// the batch row, and tokenize the caption (data/text/tokenizer.h). Undecodable images and images
// over the pixel limit are rejected with their fault kind; the loader counts and replaces
// them.
#pragma once

#include <atomic>
#include <cstdint>

#include "data/loader/data_config.h"
#include "data/loader/sample_processor.h"

namespace rsclip::data {

// Where the workers' time goes (summed over threads), for benchmarks and `--bench`.
struct ProcessorTimings {
  std::atomic<std::int64_t> decode_ns{0}, transform_ns{0}, tokenize_ns{0}, samples{0};
};

// One tokenizer (thread-safe) is shared by the workers; each worker gets its own transform.
// rsclip::Error when the tokenizer or transform settings are unusable.
ProcessorSpec clip_processor(const DataConfig& config, bool train, ProcessorTimings* timings = nullptr);

}  // namespace rsclip::data
