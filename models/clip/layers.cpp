#include "models/clip/layers.h"

#include <cmath>

namespace rsclip::models {

LayerNormImpl::LayerNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
  bias = register_parameter("bias", torch::zeros({dim}));
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  return at::layer_norm(x, {weight.size(0)}, weight, bias, eps).to(x.scalar_type());
}

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  weight = register_parameter("weight", torch::empty({out, in}));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}));
  reset_linear(*this);
}

LinearImpl::LinearImpl(torch::Tensor w, torch::Tensor b) : in_features(w.size(1)), out_features(w.size(0)) {
  TORCH_CHECK(w.dim() == 2, "Linear weight must be 2-D");
  weight = register_parameter("weight", w, w.requires_grad());
  if (b.defined()) bias = register_parameter("bias", b, b.requires_grad());
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) { return at::linear(x, weight, bias); }

void reset_linear(LinearImpl& linear) {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(linear.weight, std::sqrt(5.0));
  if (linear.bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(linear.in_features));
    linear.bias.uniform_(-bound, bound);
  }
}

LayerScaleImpl::LayerScaleImpl(int64_t dim, double init) {
  gamma = register_parameter("gamma", torch::full({dim}, init));
}

torch::Tensor Activation::operator()(const torch::Tensor& x) const {
  if (quick_gelu) return x * torch::sigmoid(1.702 * x);
  return at::gelu(x, approximate);
}

}  // namespace rsclip::models
