#include "core/dist/collectives_autograd.h"

#include <cstdint>
#include <vector>

namespace rsclip {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Function::apply passes tensors and plain values, and contexts store IValues: the runtime
// travels as its address (it outlives the graph, see the header).
int64_t to_handle(Distributed& dist) { return static_cast<int64_t>(reinterpret_cast<intptr_t>(&dist)); }
Distributed& from_handle(int64_t handle) { return *reinterpret_cast<Distributed*>(static_cast<intptr_t>(handle)); }
Distributed& from_handle(const AutogradContext* ctx) { return from_handle(ctx->saved_data.at("dist").toInt()); }

struct AllGather : torch::autograd::Function<AllGather> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& tensor, int64_t dist) {
    ctx->saved_data["dist"] = dist;
    return from_handle(dist).all_gather(tensor);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {from_handle(ctx).reduce_scatter_sum(grads[0]), torch::Tensor()};
  }
};

torch::Tensor exchange(Distributed& dist, int from_rank, int to_rank, const torch::Tensor& tensor) {
  auto received = torch::zeros_like(tensor, at::MemoryFormat::Contiguous);
  dist.batch_send_recv(
      {{P2POp::Kind::send, tensor.detach().contiguous(), to_rank}, {P2POp::Kind::recv, received, from_rank}});
  return received;
}

std::pair<torch::Tensor, torch::Tensor> exchange_bidir(Distributed& dist, int left_rank, int right_rank,
                                                       const torch::Tensor& to_left, const torch::Tensor& to_right) {
  auto from_left = torch::zeros_like(to_right, at::MemoryFormat::Contiguous);
  auto from_right = torch::zeros_like(to_left, at::MemoryFormat::Contiguous);
  dist.batch_send_recv({{P2POp::Kind::send, to_right.detach().contiguous(), right_rank},
                        {P2POp::Kind::send, to_left.detach().contiguous(), left_rank},
                        {P2POp::Kind::recv, from_right, right_rank},
                        {P2POp::Kind::recv, from_left, left_rank}});
  return {from_right, from_left};
}

struct NeighbourExchange : torch::autograd::Function<NeighbourExchange> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& tensor, int64_t from_rank, int64_t to_rank,
                               int64_t dist) {
    ctx->saved_data["dist"] = dist;
    ctx->saved_data["from"] = from_rank;
    ctx->saved_data["to"] = to_rank;
    return exchange(from_handle(dist), static_cast<int>(from_rank), static_cast<int>(to_rank), tensor);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const int from_rank = static_cast<int>(ctx->saved_data.at("from").toInt());
    const int to_rank = static_cast<int>(ctx->saved_data.at("to").toInt());
    // The gradient goes back to whoever sent us the tensor.
    return {exchange(from_handle(ctx), to_rank, from_rank, grads[0]), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

struct NeighbourExchangeBidir : torch::autograd::Function<NeighbourExchangeBidir> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& to_left, const torch::Tensor& to_right,
                               int64_t left_rank, int64_t right_rank, int64_t dist) {
    ctx->saved_data["dist"] = dist;
    ctx->saved_data["left"] = left_rank;
    ctx->saved_data["right"] = right_rank;
    auto [from_right, from_left] =
        exchange_bidir(from_handle(dist), static_cast<int>(left_rank), static_cast<int>(right_rank), to_left, to_right);
    return {from_right, from_left};
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const int left_rank = static_cast<int>(ctx->saved_data.at("left").toInt());
    const int right_rank = static_cast<int>(ctx->saved_data.at("right").toInt());
    // open_clip: the same exchange with left and right swapped, on (grad from_right,
    // grad from_left); what comes back from the (old) left is the gradient of to_left.
    auto [grad_to_left, grad_to_right] = exchange_bidir(from_handle(ctx), right_rank, left_rank, grads[0], grads[1]);
    return {grad_to_left, grad_to_right, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_gather_with_grad(Distributed& dist, const torch::Tensor& tensor) {
  if (!dist.enabled()) return tensor;
  return AllGather::apply(tensor, to_handle(dist));
}

torch::Tensor gather_features(Distributed& dist, const torch::Tensor& features, bool gather_with_grad,
                              bool local_loss) {
  if (!dist.enabled() || dist.world_size() == 1) return features;
  if (gather_with_grad) return all_gather_with_grad(dist, features);
  auto gathered = dist.all_gather(features);
  if (local_loss) return gathered;
  auto blocks = gathered.chunk(dist.world_size(), 0);
  blocks[dist.rank()] = features;
  return torch::cat(blocks, 0);
}

torch::Tensor neighbour_exchange_with_grad(Distributed& dist, int from_rank, int to_rank, const torch::Tensor& tensor) {
  TORCH_CHECK(dist.enabled(), "neighbour exchange needs a process group");
  return NeighbourExchange::apply(tensor, int64_t{from_rank}, int64_t{to_rank}, to_handle(dist));
}

std::pair<torch::Tensor, torch::Tensor> neighbour_exchange_bidir_with_grad(Distributed& dist, int left_rank,
                                                                           int right_rank, const torch::Tensor& to_left,
                                                                           const torch::Tensor& to_right) {
  TORCH_CHECK(dist.enabled(), "neighbour exchange needs a process group");
  auto out = NeighbourExchangeBidir::apply(to_left, to_right, int64_t{left_rank}, int64_t{right_rank}, to_handle(dist));
  return {out[0], out[1]};
}

}  // namespace rsclip
