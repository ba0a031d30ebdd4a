// Loading a state dict into a CLIP model the way open_clip's load_checkpoint does:
//   - keys of other trainers mapped to open_clip names (`module.` prefix of DDP; ITRA's
//     `image_backbone.` -> `visual.` and `text_backbone.` -> "", as RS5M's convert_weight.py),
//   - a logit_scale / logit_bias of the other rank ([] vs [1]) reshaped, a missing
//     logit_bias zero-filled for SigLIP-style models,
//   - positional embeddings resized when the image grid or the text context differs
//     (resize_pos_embed: bicubic + antialias; resize_text_pos_embed: linear),
//   - strict by default: any missing, unexpected or shape-mismatched key is an error listing
//     all of them as PyTorch does; strict=false reports the same, loads the rest, goes on.
#pragma once

#include <string>
#include <vector>

#include "core/io/state_dict.h"
#include "models/clip/clip.h"

namespace rsclip::models {

struct LoadReport {
  std::vector<std::string> missing, unexpected, mismatched;  // mismatched: "key: checkpoint [..] vs model [..]"
  std::vector<std::string> adapted;                          // what was mapped or resized
  bool clean() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string describe() const;  // PyTorch-style listing
};

// Renames keys of other trainers (module., ITRA) to open_clip's; leaves others alone.
StateDict to_open_clip_names(const StateDict& state);

// Copies `state` into the model's parameters (no autograd, dtype converted to the
// parameter's). `source` names the file in errors.
LoadReport load_state_dict(CLIPImpl& model, const StateDict& state, bool strict, const std::string& source);

// The model's parameters and buffers by name, in open_clip's state_dict order.
StateDict model_state_dict(CLIPImpl& model);

}  // namespace rsclip::models
