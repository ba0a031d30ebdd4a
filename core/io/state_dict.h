// A state dict: parameter/buffer name -> tensor, in insertion order (the order open_clip's
// model.state_dict() produces, which writers keep so files diff cleanly).
#pragma once

#include <string>

#include <torch/torch.h>

namespace rsclip {

using StateDict = torch::OrderedDict<std::string, torch::Tensor>;

}  // namespace rsclip
