// The weights of a TorchScript archive (torch.jit.save; OpenAI's CLIP .pt releases) read
// with the project's own bounded readers, never torch::jit::load: no code of the file runs.
//
// data.pkl pickles the module tree: each module an object of class `__torch__.<path>.<Class>`
// whose attributes (parameters, buffers, plain tensors, ints, lists, child modules) form its
// state dict. Which tensor attributes are parameters and buffers is written in the class
// definition, code/<path>.py:
//
//   class Linear(Module):
//     __parameters__ = ["weight", "bias", ]
//     __buffers__ = []
//
// The state dict is ScriptModule.state_dict()'s: per module its parameters (in
// __parameters__ order, None skipped), then its buffers, then each child module's, depth
// first in attribute order, names joined with '.'.
#pragma once

#include "core/io/state_dict.h"
#include "core/io/torch_file.h"

namespace rsclip {

// rsclip::Error naming the archive for anything that does not fit that shape.
StateDict read_torchscript_state_dict(const TorchArchive& archive);

}  // namespace rsclip
