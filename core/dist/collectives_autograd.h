// Differentiable collectives for losses computed across ranks (open_clip/loss.py).
//
// all_gather_with_grad = torch.distributed.nn.all_gather + torch.cat: forward gathers every
// rank's [n, ...] block into [world * n, ...]; backward returns, for the local block, the sum
// over ranks of each rank's gradient for that block (reduce-scatter with SUM under NCCL; the
// all-to-all + sum in rank order that torch uses for other backends). With a loss computed
// identically on every rank and gradients averaged by DDP, this gives the single-process
// gradient of the global batch.
//
// The tensors and the Distributed must outlive the backward pass; every rank must run the
// same forward and backward (the collectives pair up across ranks).
#pragma once

#include <utility>

#include <torch/torch.h>

#include "core/dist/distributed.h"

namespace rsclip {

torch::Tensor all_gather_with_grad(Distributed& dist, const torch::Tensor& tensor);

// open_clip gather_features for one tensor (image or text features):
//   gather_with_grad  -> all_gather_with_grad (local_loss does not matter);
//   otherwise         -> gathered without autograd; unless local_loss, this rank's block is
//                        the local tensor itself so its gradient still flows.
// With world size 1 the features come back unchanged (open_clip does not gather then).
torch::Tensor gather_features(Distributed& dist, const torch::Tensor& features, bool gather_with_grad, bool local_loss);

// SigLIP's neighbour exchange: sends `tensor` to `to_rank`, returns what `from_rank` sent;
// the gradient travels back the opposite way.
torch::Tensor neighbour_exchange_with_grad(Distributed& dist, int from_rank, int to_rank, const torch::Tensor& tensor);

// Both directions at once: returns {from_right, from_left}, open_clip's op order.
std::pair<torch::Tensor, torch::Tensor> neighbour_exchange_bidir_with_grad(Distributed& dist, int left_rank,
                                                                           int right_rank, const torch::Tensor& to_left,
                                                                           const torch::Tensor& to_right);

}  // namespace rsclip
