// Extension points of the CLIP towers for parameter-efficient methods (models/peft/).
//
// Each extension point is a std::shared_ptr slot on a tower module, null by default, so an
// unused slot costs one pointer test and the base model computes exactly open_clip's ops.
// A slot only *calls* its hook: the method registers the hook module wherever its
// parameters should be named (e.g. `visual.vpt_prompts.tokens`), which keeps every base
// parameter under its open_clip name and lets one module serve several slots (MRS-Adapter
// reuses one adapter in all blocks of a tower).
//
// The slots and where they act:
//   ResidualAttentionBlock  attn_adapter      on the attention branch, before the residual add
//                           mlp_adapter       on the MLP branch, before the residual add
//                           parallel_adapter  beside the MLP: out = h + MLP(LN2(h)) + P(h)
//   Attention               in_proj_hook      on the packed q|k|v projection output
//   Transformer             token_hook        token sequence before each block / after the last
//   VisionTransformer,      feature_hook      on the pooled, projected features
//   TextTransformer
//   TextTransformer         embed_hook        on the token embeddings, before the positional
//                                             embedding is added
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace rsclip::models {

// A map of activations to activations of the same shape.
class TensorHook : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
};

// Sees the attention input x [B, T, w] and the packed projection output qkv [B, T, 3w];
// returns the packed output to use.
class InProjHook : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& qkv) = 0;
};

// Changes the token sequence around the blocks (may change its length): before_block(x, i)
// runs before block i, after_blocks(x) after the last one, so pooling sees the tower's own
// token layout again.
class TokenHook : public torch::nn::Module {
 public:
  virtual torch::Tensor before_block(const torch::Tensor& x, int64_t block) = 0;
  virtual torch::Tensor after_blocks(const torch::Tensor& x) = 0;
};

// Text token embeddings [B, L, w] (before the positional embedding) and token ids [B, L]
// in, the embeddings to use and the token ids that pooling should see (the EOT position
// moves when tokens are inserted) out.
struct TextEmbedding {
  torch::Tensor embeddings, tokens;
};
class TextEmbedHook : public torch::nn::Module {
 public:
  virtual TextEmbedding forward(const torch::Tensor& token_embeddings, const torch::Tensor& tokens) = 0;
};

}  // namespace rsclip::models
