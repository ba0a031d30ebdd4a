#include "models/clip/transformer.h"

#include "models/clip/grad_checkpoint.h"

namespace rsclip::models {

AttentionImpl::AttentionImpl(int64_t dim_, int64_t heads_) : dim(dim_), heads(heads_) {
  TORCH_CHECK(dim % heads == 0, "attention width ", dim, " not divisible by heads ", heads);
  // nn.MultiheadAttention._reset_parameters: xavier_uniform in_proj, zero biases.
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * dim, dim}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * dim}));
  out_proj = register_module("out_proj", Linear(dim, dim));
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(in_proj_weight);
  out_proj->bias.zero_();
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, bool causal) {
  const int64_t batch = x.size(0), tokens = x.size(1), head_dim = dim / heads;
  // One packed projection, then split into q, k, v: [3, batch, heads, tokens, head_dim].
  auto packed = at::linear(x, in_proj_weight, in_proj_bias);
  if (in_proj_hook) packed = in_proj_hook->forward(x, packed);
  auto qkv = packed.view({batch, tokens, 3, heads, head_dim}).permute({2, 0, 3, 1, 4});
  auto out = at::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], /*attn_mask=*/{}, /*dropout_p=*/0.0, causal);
  return out_proj->forward(out.transpose(1, 2).reshape({batch, tokens, dim}));
}

MlpImpl::MlpImpl(int64_t width, int64_t hidden, Activation act_) : act(std::move(act_)) {
  c_fc = register_module("c_fc", Linear(width, hidden));
  c_proj = register_module("c_proj", Linear(hidden, width));
}

ResidualAttentionBlockImpl::ResidualAttentionBlockImpl(const TransformerOptions& opt) {
  ln_1 = register_module("ln_1", LayerNorm(opt.width, opt.norm_eps));
  attn = register_module("attn", Attention(opt.width, opt.heads));
  if (opt.ls_init_value) ls_1 = register_module("ls_1", LayerScale(opt.width, *opt.ls_init_value));
  ln_2 = register_module("ln_2", LayerNorm(opt.width, opt.norm_eps));
  mlp = register_module("mlp", Mlp(opt.width, opt.mlp_width, opt.act));
  if (opt.ls_init_value) ls_2 = register_module("ls_2", LayerScale(opt.width, *opt.ls_init_value));
}

torch::Tensor ResidualAttentionBlockImpl::forward(const torch::Tensor& x, bool causal) {
  auto a = attn->forward(ln_1->forward(x), causal);
  if (ls_1) a = ls_1->forward(a);
  if (attn_adapter) a = attn_adapter->forward(a);
  auto h = x + a;
  auto m = mlp->forward(ln_2->forward(h));
  if (ls_2) m = ls_2->forward(m);
  if (mlp_adapter) m = mlp_adapter->forward(m);
  if (parallel_adapter) m = m + parallel_adapter->forward(h);
  return h + m;
}

TransformerImpl::TransformerImpl(const TransformerOptions& opt) : width(opt.width) {
  for (int64_t i = 0; i < opt.layers; ++i) resblocks->push_back(ResidualAttentionBlock(opt));
  register_module("resblocks", resblocks);
}

torch::Tensor TransformerImpl::forward(torch::Tensor x, bool causal) {
  const bool recompute = grad_checkpointing && torch::GradMode::is_enabled();
  for (int64_t i = 0; i < static_cast<int64_t>(resblocks->size()); ++i) {
    auto* block = resblocks[i]->as<ResidualAttentionBlockImpl>();
    if (token_hook) x = token_hook->before_block(x, i);
    if (recompute) {
      x = checkpoint([block, causal](const torch::Tensor& in) { return block->forward(in, causal); }, x);
    } else {
      x = block->forward(x, causal);
    }
  }
  return token_hook ? token_hook->after_blocks(x) : x;
}

}  // namespace rsclip::models
