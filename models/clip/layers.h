// Small layers of open_clip's transformer, with open_clip's parameter names and numerics.
#pragma once

#include <optional>
#include <string>

#include <torch/torch.h>

namespace rsclip::models {

// open_clip's LayerNorm: F.layer_norm, then cast back to the input dtype (under autocast
// layer_norm runs in fp32; the residual stream stays in the autocast dtype). Parameters
// `weight`, `bias`.
class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
  double eps;
};
TORCH_MODULE(LayerNorm);

// nn.Linear with `weight` [out, in] and `bias` [out]. forward() is virtual so PEFT methods
// (LoRA) can subclass it and be swapped in with replace_module, keeping the base names.
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool with_bias = true);
  // Adopts existing tensors as its parameters (a PEFT wrapper keeps the base tensors, so
  // loaded weights and references to them stay valid). `bias` may be undefined.
  LinearImpl(torch::Tensor weight, torch::Tensor bias);
  virtual ~LinearImpl() = default;
  virtual torch::Tensor forward(const torch::Tensor& x);
  int64_t in_features, out_features;
  torch::Tensor weight, bias;
};
TORCH_MODULE(Linear);

// open_clip's LayerScale: `gamma` [dim], x * gamma.
class LayerScaleImpl : public torch::nn::Module {
 public:
  LayerScaleImpl(int64_t dim, double init);
  torch::Tensor forward(const torch::Tensor& x) { return x * gamma; }
  torch::Tensor gamma;
};
TORCH_MODULE(LayerScale);

// The MLP activation: QuickGELU (x * sigmoid(1.702 x), OpenAI weights) or nn.GELU with
// `approximate` ("none" | "tanh").
struct Activation {
  bool quick_gelu = false;
  std::string approximate = "none";
  torch::Tensor operator()(const torch::Tensor& x) const;
};

// torch.nn.Linear's default init (kaiming_uniform a=sqrt(5), bias U(-1/sqrt(in), 1/sqrt(in))).
void reset_linear(LinearImpl& linear);

}  // namespace rsclip::models
