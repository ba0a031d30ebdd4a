// Model FLOPs per sample, from the config alone (for `rsclip info`, MFU in benchmarks).
//
// FLOPs = 2 x multiply-accumulates of every matmul and of the patch convolution:
//   patchify      grid^2 * (3 * patch^2) * width
//   per block     T*w*3w (qkv) + T*T*w (scores) + T*T*w (weights x values) + T*w*w (out)
//                 + 2*T*w*mlp_width (c_fc, c_proj)
//   projection    width * embed_dim
// with T = grid^2 + 1 image tokens, T = context_length text tokens (full T^2 attention is
// counted for the causal text tower, as fvcore and open_clip's profiler do). LayerNorm,
// softmax, activations and embeddings lookups are not counted (< 1% for ViTs). A training
// step is counted as 3x the forward FLOPs (backward = 2x forward). Note: open_clip's
// profile table (fvcore) reports multiply-accumulates as "FLOPs", half of these numbers.
#pragma once

#include <cstdint>

#include "models/clip/model_config.h"

namespace rsclip::models {

struct Flops {
  double image = 0, text = 0;  // forward FLOPs for one image / one text
  double forward() const { return image + text; }
  double train_step() const { return 3.0 * forward(); }  // one image-text pair, forward + backward
};

Flops count_flops(const ModelConfig& cfg);

// Parameter counts from the config alone, without building the model (ViT-bigG-14 would
// take 10 GB). Equal to count_parameters() of the built model (tests/models check it).
struct ConfigParameterCounts {
  int64_t visual = 0, text = 0, total = 0;
};
ConfigParameterCounts count_config_parameters(const ModelConfig& cfg);

}  // namespace rsclip::models
