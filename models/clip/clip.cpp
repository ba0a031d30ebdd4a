#include "models/clip/clip.h"

#include <cmath>

#include "core/base/error.h"

namespace rsclip::models {
namespace {

TransformerOptions block_options(int64_t width, int64_t layers, int64_t heads, int64_t mlp_width,
                                 std::optional<double> ls, const Activation& act, double eps) {
  TransformerOptions o;
  o.width = width;
  o.layers = layers;
  o.heads = heads;
  o.mlp_width = mlp_width;
  o.ls_init_value = ls;
  o.act = act;
  o.norm_eps = eps;
  return o;
}

// open_clip's PatchDropout (training only): keep max(1, int(n * (1 - p))) random patch
// tokens per image, always keeping the class token.
torch::Tensor patch_dropout(const torch::Tensor& x, double prob) {
  const int64_t batch = x.size(0), patches = x.size(1) - 1;
  const int64_t keep = std::max<int64_t>(1, static_cast<int64_t>(patches * (1.0 - prob)));
  auto scores = torch::randn({batch, patches}, x.options().dtype(torch::kFloat));
  auto index = std::get<1>(scores.topk(keep, -1)).unsqueeze(-1).expand({-1, -1, x.size(2)});
  auto kept = torch::gather(x.slice(1, 1), 1, index);
  return torch::cat({x.slice(1, 0, 1), kept}, 1);
}

}  // namespace

// ----- image tower -------------------------------------------------------------------
VisionTransformerImpl::VisionTransformerImpl(const VisionConfig& c, int64_t embed_dim, const Activation& act_in)
    : cfg(c) {
  Activation act = act_in;
  if (!act.quick_gelu) act.approximate = c.act_approximate;
  const double scale = std::pow(static_cast<double>(c.width), -0.5);
  // Registration order = open_clip's, so named_parameters() lists keys in its state_dict order.
  conv1 = register_module(
      "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, c.width, c.patch_size).stride(c.patch_size).bias(false)));
  class_embedding = register_parameter("class_embedding", scale * torch::randn({c.width}));
  positional_embedding = register_parameter("positional_embedding", scale * torch::randn({c.tokens(), c.width}));
  if (!c.no_ln_pre) ln_pre = register_module("ln_pre", LayerNorm(c.width, c.norm_eps));
  transformer = register_module("transformer", Transformer(block_options(c.width, c.layers, c.heads(), c.mlp_width(),
                                                                         c.ls_init_value, act, c.norm_eps)));
  ln_post = register_module("ln_post", LayerNorm(c.width, c.norm_eps));
  proj = register_parameter("proj", scale * torch::randn({c.width, embed_dim}));
}

torch::Tensor VisionTransformerImpl::embed(const torch::Tensor& pixels) {
  auto x = conv1->forward(pixels);                               // [B, width, grid, grid]
  x = x.reshape({x.size(0), x.size(1), -1}).permute({0, 2, 1});  // [B, grid*grid, width]
  auto cls = class_embedding.view({1, 1, -1}).expand({x.size(0), -1, -1}).to(x.scalar_type());
  x = torch::cat({cls, x}, 1) + positional_embedding.to(x.scalar_type());
  if (is_training() && cfg.patch_dropout > 0) x = patch_dropout(x, cfg.patch_dropout);
  return ln_pre ? ln_pre->forward(x) : x;
}

torch::Tensor VisionTransformerImpl::pool(const torch::Tensor& tokens) {
  auto global_pool = [&](const torch::Tensor& x) {
    if (cfg.pool_type == "tok") return x.select(1, 0);
    if (cfg.pool_type == "avg") return x.slice(1, 1).mean(1);
    return x;
  };
  torch::Tensor pooled =
      cfg.final_ln_after_pool ? ln_post->forward(global_pool(tokens)) : global_pool(ln_post->forward(tokens));
  return torch::matmul(pooled, proj);
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& pixels) {
  auto x = embed(pixels);
  if (input_dropout > 0) x = torch::dropout(x, input_dropout, /*train=*/true);
  auto features = pool(transformer->forward(x, /*causal=*/false));
  return feature_hook ? feature_hook->forward(features) : features;
}

// ----- text tower --------------------------------------------------------------------
TextTransformerImpl::TextTransformerImpl(const TextConfig& c, int64_t embed_dim, const Activation& act_in) : cfg(c) {
  Activation act = act_in;
  if (!act.quick_gelu) act.approximate = c.act_approximate;
  // open_clip TextTransformer's registration order (the custom_text state_dict order).
  token_embedding = register_module("token_embedding", torch::nn::Embedding(c.vocab_size, c.width));
  positional_embedding = register_parameter("positional_embedding", torch::empty({c.context_length, c.width}));
  transformer = register_module("transformer", Transformer(block_options(c.width, c.layers, c.heads, c.mlp_width(),
                                                                         c.ls_init_value, act, c.norm_eps)));
  ln_final = register_module("ln_final", LayerNorm(c.width, c.norm_eps));
  if (c.proj_type != "none") {
    if (c.proj_bias) {
      text_projection_linear = register_module("text_projection", Linear(c.width, embed_dim));
    } else {
      text_projection = register_parameter("text_projection", torch::empty({c.width, embed_dim}));
    }
  }
  // open_clip TextTransformer.init_parameters.
  torch::NoGradGuard no_grad;
  const double width = c.width;
  const double attn_std = std::pow(width, -0.5);
  const double proj_std = attn_std * std::pow(2.0 * c.layers, -0.5);
  const double fc_std = std::pow(2.0 * width, -0.5);
  token_embedding->weight.normal_(0, 0.02);
  positional_embedding.normal_(0, 0.01);
  for (const auto& m : *transformer->resblocks) {
    auto* block = m->as<ResidualAttentionBlockImpl>();
    block->attn->in_proj_weight.normal_(0, attn_std);
    block->attn->out_proj->weight.normal_(0, proj_std);
    block->mlp->c_fc->weight.normal_(0, fc_std);
    block->mlp->c_proj->weight.normal_(0, proj_std);
  }
  if (text_projection.defined()) text_projection.normal_(0, attn_std);
  if (text_projection_linear) {
    text_projection_linear->weight.normal_(0, attn_std);
    text_projection_linear->bias.zero_();
  }
}

TextEmbedding TextTransformerImpl::embed(const torch::Tensor& tokens) {
  // open_clip casts to the blocks' weight dtype (pure-precision training).
  auto block = transformer->resblocks[0]->as<ResidualAttentionBlockImpl>();
  const auto cast = block->mlp->c_fc->weight.scalar_type();
  if (tokens.size(1) != cfg.context_length) {
    throw Error("token rows have length " + std::to_string(tokens.size(1)) + ", the model's context_length is " +
                    std::to_string(cfg.context_length),
                "text input", "tokenize with the model's context length");
  }
  TextEmbedding e{token_embedding->forward(tokens).to(cast), tokens};
  if (embed_hook) e = embed_hook->forward(e.embeddings, tokens);
  e.embeddings = e.embeddings + positional_embedding.to(cast);
  return e;
}

torch::Tensor TextTransformerImpl::pool(const torch::Tensor& x_in, const torch::Tensor& tokens) {
  auto x = ln_final->forward(x_in);
  torch::Tensor pooled;
  const auto rows = torch::arange(x.size(0), tokens.options().dtype(torch::kLong));
  if (cfg.pool_type == "argmax") {
    pooled = x.index({rows, tokens.argmax(-1)});  // the EOT token has the largest id
  } else if (cfg.pool_type == "eos") {
    pooled = x.index({rows, (tokens == cfg.eos_id).to(torch::kInt).argmax(-1)});
  } else if (cfg.pool_type == "first") {
    pooled = x.select(1, 0);
  } else if (cfg.pool_type == "last") {
    pooled = x.select(1, -1);
  } else {
    pooled = x;
  }
  if (text_projection_linear) return text_projection_linear->forward(pooled);
  if (text_projection.defined()) return torch::matmul(pooled, text_projection);
  return pooled;
}

torch::Tensor TextTransformerImpl::forward(const torch::Tensor& tokens) {
  auto e = embed(tokens);
  if (input_dropout > 0) e.embeddings = torch::dropout(e.embeddings, input_dropout, /*train=*/true);
  auto features = pool(transformer->forward(e.embeddings, /*causal=*/!cfg.no_causal_mask), e.tokens);
  return feature_hook ? feature_hook->forward(features) : features;
}

// ----- CLIP --------------------------------------------------------------------------
CLIPImpl::CLIPImpl(const ModelConfig& c) : cfg(c) {
  const Activation act{c.quick_gelu, "none"};
  visual = register_module("visual", VisionTransformer(c.vision, c.embed_dim, act));
  text = TextTransformer(c.text, c.embed_dim, act);
  if (c.custom_text) {
    register_module("text", text);
  } else {
    // open_clip's CLIP unpacks the text tower onto itself; same registration order.
    register_module("transformer", text->transformer);
    register_module("token_embedding", text->token_embedding);
    register_parameter("positional_embedding", text->positional_embedding);
    register_module("ln_final", text->ln_final);
    if (text->text_projection_linear) register_module("text_projection", text->text_projection_linear);
    if (text->text_projection.defined()) register_parameter("text_projection", text->text_projection);
  }
  const std::vector<int64_t> shape = c.nonscalar_logit_scale ? std::vector<int64_t>{1} : std::vector<int64_t>{};
  logit_scale = register_parameter("logit_scale", torch::full(shape, c.init_logit_scale));
  if (c.init_logit_bias) logit_bias = register_parameter("logit_bias", torch::full(shape, *c.init_logit_bias));
}

torch::Tensor CLIPImpl::encode_image(const torch::Tensor& pixels, bool normalize) {
  auto f = visual->forward(pixels);
  return normalize ? torch::nn::functional::normalize(f, torch::nn::functional::NormalizeFuncOptions().dim(-1)) : f;
}

torch::Tensor CLIPImpl::encode_text(const torch::Tensor& tokens, bool normalize) {
  auto f = text->forward(tokens);
  return normalize ? torch::nn::functional::normalize(f, torch::nn::functional::NormalizeFuncOptions().dim(-1)) : f;
}

void CLIPImpl::set_grad_checkpointing(bool enable) {
  visual->transformer->grad_checkpointing = enable;
  text->transformer->grad_checkpointing = enable;
}

ParameterCounts count_parameters(CLIPImpl& model) {
  ParameterCounts c;
  for (const auto& p : model.visual->parameters()) c.visual += p.numel();
  for (const auto& p : model.text->parameters()) c.text += p.numel();
  for (const auto& p : model.parameters()) c.total += p.numel();
  return c;
}

InputDropoutScope::InputDropoutScope(CLIPImpl& model, double p)
    : model_(model), prev_image_(model.visual->input_dropout), prev_text_(model.text->input_dropout) {
  TORCH_CHECK(p >= 0 && p < 1, "input dropout must be in [0, 1), got ", p);
  model.visual->input_dropout = p;
  model.text->input_dropout = p;
}

InputDropoutScope::~InputDropoutScope() {
  model_.visual->input_dropout = prev_image_;
  model_.text->input_dropout = prev_text_;
}

}  // namespace rsclip::models
