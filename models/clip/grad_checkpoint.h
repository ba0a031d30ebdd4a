// Gradient checkpointing (LibTorch has none, pytorch#52744): run a block without keeping
// its activations and recompute it in backward. Like torch.utils.checkpoint it restores
// the RNG state (dropout inside adapters repeats the same mask) and the autocast state
// (backward runs on the autograd thread, where autocast is off) before recomputing.
#pragma once

#include <functional>

#include <torch/torch.h>

namespace rsclip::models {

// Returns fn(x); only x's graph edge and the parameters fn touches receive gradients.
torch::Tensor checkpoint(std::function<torch::Tensor(const torch::Tensor&)> fn, const torch::Tensor& x);

}  // namespace rsclip::models
