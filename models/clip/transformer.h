// open_clip's Transformer: residual attention blocks with pre-LayerNorm, packed-QKV
// multi-head attention (nn.MultiheadAttention's `in_proj_weight`/`in_proj_bias`/`out_proj`
// names, kept by open_clip for checkpoint compatibility) computed with
// scaled_dot_product_attention, and an MLP `c_fc` -> activation -> `c_proj`.
//
// State-dict names (as open_clip): resblocks.N.{ln_1, attn.in_proj_weight, attn.in_proj_bias,
// attn.out_proj, ls_1.gamma?, ln_2, mlp.c_fc, mlp.c_proj, ls_2.gamma?}.
// The hook slots (null unless a PEFT method sets them) are described in models/clip/hooks.h.
#pragma once

#include <optional>

#include <torch/torch.h>

#include "models/clip/hooks.h"
#include "models/clip/layers.h"

namespace rsclip::models {

struct TransformerOptions {
  int64_t width = 512;
  int64_t layers = 12;
  int64_t heads = 8;
  int64_t mlp_width = 2048;
  std::optional<double> ls_init_value;
  Activation act;
  double norm_eps = 1e-5;
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads);
  // x: [batch, tokens, dim]; causal masks future tokens (the text tower).
  torch::Tensor forward(const torch::Tensor& x, bool causal);

  int64_t dim, heads;
  torch::Tensor in_proj_weight, in_proj_bias;
  Linear out_proj{nullptr};
  std::shared_ptr<InProjHook> in_proj_hook;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t width, int64_t hidden, Activation act);
  torch::Tensor forward(const torch::Tensor& x) { return c_proj->forward(act(c_fc->forward(x))); }

  Linear c_fc{nullptr}, c_proj{nullptr};
  Activation act;
};
TORCH_MODULE(Mlp);

class ResidualAttentionBlockImpl : public torch::nn::Module {
 public:
  explicit ResidualAttentionBlockImpl(const TransformerOptions& opt);
  torch::Tensor forward(const torch::Tensor& x, bool causal);

  LayerNorm ln_1{nullptr}, ln_2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
  LayerScale ls_1{nullptr}, ls_2{nullptr};  // only with ls_init_value
  std::shared_ptr<TensorHook> attn_adapter, mlp_adapter, parallel_adapter;
};
TORCH_MODULE(ResidualAttentionBlock);

class TransformerImpl : public torch::nn::Module {
 public:
  explicit TransformerImpl(const TransformerOptions& opt);
  torch::Tensor forward(torch::Tensor x, bool causal);

  int64_t width;
  torch::nn::ModuleList resblocks;
  // Recompute each block in backward instead of keeping its activations (open_clip's
  // set_grad_checkpointing); only takes effect while autograd records.
  bool grad_checkpointing = false;
  std::shared_ptr<TokenHook> token_hook;
};
TORCH_MODULE(Transformer);

}  // namespace rsclip::models
