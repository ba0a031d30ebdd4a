// CLIP: open_clip's ViT image tower and transformer text tower, built from a ModelConfig,
// with open_clip's state-dict names:
//
//   visual.{conv1.weight, class_embedding, positional_embedding, ln_pre, transformer, ln_post, proj}
//   token_embedding.weight, positional_embedding, transformer.resblocks.N..., ln_final,
//   text_projection, logit_scale[, logit_bias]
//
// (CustomTextCLIP configs, `custom_text: true`, put the text tower under `text.` instead.)
// encode_image / encode_text follow open_clip's CLIP.encode_image / encode_text op for op,
// so outputs agree to float rounding in fp32 and under the same autocast.
//
// Beyond open_clip: the hook slots of models/clip/hooks.h (feature_hook, the text embed_hook)
// and `input_dropout`, the token dropout of HMMC's augmented second pass (docs/reference.md,
// PETL paper): dropout on the image tokens after ln_pre and on the text tokens after the
// token + positional embedding. It applies whenever it is > 0, in train and eval mode alike,
// since it is asked for explicitly per pass (InputDropoutScope).
#pragma once

#include <torch/torch.h>

#include "models/clip/hooks.h"
#include "models/clip/layers.h"
#include "models/clip/model_config.h"
#include "models/clip/transformer.h"

namespace rsclip::models {

class VisionTransformerImpl : public torch::nn::Module {
 public:
  VisionTransformerImpl(const VisionConfig& cfg, int64_t embed_dim, const Activation& act);
  // pixels [batch, 3, H, W] -> pooled features [batch, embed_dim] (before normalisation).
  torch::Tensor forward(const torch::Tensor& pixels);
  // conv1 patchify + class token + positional embedding (+ patch dropout in training) + ln_pre.
  torch::Tensor embed(const torch::Tensor& pixels);
  // ln_post + pooling + proj.
  torch::Tensor pool(const torch::Tensor& tokens);

  VisionConfig cfg;
  torch::nn::Conv2d conv1{nullptr};
  torch::Tensor class_embedding, positional_embedding, proj;
  LayerNorm ln_pre{nullptr}, ln_post{nullptr};
  Transformer transformer{nullptr};
  double input_dropout = 0.0;
  std::shared_ptr<TensorHook> feature_hook;
};
TORCH_MODULE(VisionTransformer);

class TextTransformerImpl : public torch::nn::Module {
 public:
  TextTransformerImpl(const TextConfig& cfg, int64_t embed_dim, const Activation& act);
  // tokens [batch, context] int64 -> pooled features [batch, embed_dim].
  torch::Tensor forward(const torch::Tensor& tokens);
  // token + positional embedding (through embed_hook if set); `tokens` of the result are
  // the ids pooling must use.
  TextEmbedding embed(const torch::Tensor& tokens);
  torch::Tensor pool(const torch::Tensor& x, const torch::Tensor& tokens);  // ln_final + pooling + projection

  TextConfig cfg;
  torch::nn::Embedding token_embedding{nullptr};
  torch::Tensor positional_embedding;
  Transformer transformer{nullptr};
  LayerNorm ln_final{nullptr};
  torch::Tensor text_projection;           // [width, embed_dim], unless proj_bias
  Linear text_projection_linear{nullptr};  // proj_bias: nn.Linear named `text_projection`
  double input_dropout = 0.0;
  std::shared_ptr<TextEmbedHook> embed_hook;
  std::shared_ptr<TensorHook> feature_hook;
};
TORCH_MODULE(TextTransformer);

class CLIPImpl : public torch::nn::Module {
 public:
  explicit CLIPImpl(const ModelConfig& cfg);

  torch::Tensor encode_image(const torch::Tensor& pixels, bool normalize = false);
  torch::Tensor encode_text(const torch::Tensor& tokens, bool normalize = false);
  void set_grad_checkpointing(bool enable);

  ModelConfig cfg;
  VisionTransformer visual{nullptr};
  TextTransformer text{nullptr};  // its parameters are registered flat on CLIP unless custom_text
  torch::Tensor logit_scale, logit_bias;
};
TORCH_MODULE(CLIP);

// Number of parameters of the image tower, the text tower and in total (logit_scale/bias
// counted only in the total).
struct ParameterCounts {
  int64_t visual = 0, text = 0, total = 0;
};
ParameterCounts count_parameters(CLIPImpl& model);

// Sets input_dropout on both towers for its lifetime (HMMC's second pass), then restores
// the previous values.
class InputDropoutScope {
 public:
  InputDropoutScope(CLIPImpl& model, double p);
  ~InputDropoutScope();
  InputDropoutScope(const InputDropoutScope&) = delete;
  InputDropoutScope& operator=(const InputDropoutScope&) = delete;

 private:
  CLIPImpl& model_;
  double prev_image_, prev_text_;
};

}  // namespace rsclip::models
