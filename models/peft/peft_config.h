// The `peft:` section of a training config: which method, and one sub-section per method
// with that method's options (only the chosen method's section is used; the others keep
// their defaults). Visit pattern of core/base/config.h, so unknown keys are errors.
//
//   peft:
//     method: lora                       # full (default) | lora | coop | vpt | houlsby |
//     lora: {rank: 8, alpha: 16, ...}    #   adaptformer | clip_adapter | mrs_adapter |
//                                        #   bitfit | linear_probe | lock
//
// Defaults follow each method's paper; where the PETL paper's parameter count (docs/reference.md)
// pins a setting down it is named in the comment (see tests/models/peft/peft_contract_test.cpp
// for the closed-form counts).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rsclip::models::peft {

// LoRA (Hu et al. 2021; peft's LoraLayer conventions): y = W x + b + (alpha / rank) B A dropout(x),
// A [rank, in] kaiming-uniform(a = sqrt 5), B [out, rank] zero.
struct LoraConfig {
  int64_t rank = 8;
  double alpha = 16.0;
  double dropout = 0.0;
  // Glob patterns (`*` any run of characters, `?` one) over the names of the model's Linear
  // modules (`visual.transformer.resblocks.0.mlp.c_fc`, `transformer.resblocks.3.attn.out_proj`)
  // and of each attention's packed input projection, named `<attn>.in_proj`.
  std::vector<std::string> targets{"*.attn.in_proj"};
  // Slices of the packed in_proj (`in_proj_weight` rows [q; k; v]) that get a LoRA pair.
  std::string qkv = "qv";
  template <class V>
  void visit(V& v) {
    v("rank", rank);
    v("alpha", alpha);
    v("dropout", dropout);
    v("targets", targets);
    v("qkv", qkv);
  }
  void validate() const;
};

// CoOp (Zhou et al. 2022): n_ctx learnable context vectors inserted into the text token
// embeddings. The token ids carry no notion of a class name, so "the class" is every token
// between <start_of_text> and <end_of_text>:
//   end:    [SOS] ctx_1..ctx_n  text  [EOT]        (CoOp's default; use it for captions)
//   front:  [SOS] text  ctx_1..ctx_n  [EOT]
//   middle: [SOS] ctx_1..ctx_n/2  text  ctx_n/2+1..ctx_n  [EOT]
// For class prompts tokenize the bare class name ("dense residential"), as CoOp does;
// front/middle with free-form captions place the context around the whole caption. Rows
// too long for the context keep their first tokens and end in EOT (open_clip's rule).
struct CoopConfig {
  int64_t n_ctx = 16;
  std::string class_token_position = "end";  // end | middle | front
  double init_std = 0.02;                    // CoOp's generic context init
  template <class V>
  void visit(V& v) {
    v("n_ctx", n_ctx);
    v("class_token_position", class_token_position);
    v("init_std", init_std);
  }
  void validate() const;
};

// VPT (Jia et al. 2022) on the image tower: num_tokens prompts inserted after the class
// token; deep = fresh prompts before every block, shallow = before the first only. PETL's
// 0.46M = deep, 50 tokens on ViT-B/32 (12 x 50 x 768). Init: VPT's uniform with
// bound sqrt(6 / (3 patch^2 + width)).
struct VptConfig {
  int64_t num_tokens = 50;
  bool deep = true;
  double dropout = 0.0;  // on the prompt tokens (VPT's prompt_dropout)
  template <class V>
  void visit(V& v) {
    v("num_tokens", num_tokens);
    v("deep", deep);
    v("dropout", dropout);
  }
  void validate() const;
};

// Houlsby et al. 2019: a bottleneck adapter y + up(act(down(y))) on the attention output
// and on the MLP output of each target block, before the residual add. Up-projection and
// biases start at zero (exact identity at init); down kaiming-uniform.
struct HoulsbyConfig {
  int64_t bottleneck = 8;
  std::string activation = "relu";                    // relu | gelu
  std::vector<std::string> targets{"*.resblocks.*"};  // residual-attention block names
  template <class V>
  void visit(V& v) {
    v("bottleneck", bottleneck);
    v("activation", activation);
    v("targets", targets);
  }
  void validate() const;
};

// AdaptFormer (Chen et al. 2022): out = h + MLP(LN2(h)) + scale * up(dropout(relu(down(h))))
// in each target block; AdaptFormer's "lora" init (down kaiming-uniform, up and biases 0).
struct AdaptFormerConfig {
  int64_t bottleneck = 64;
  double scale = 0.1;
  double dropout = 0.1;
  std::vector<std::string> targets{"*.resblocks.*"};
  template <class V>
  void visit(V& v) {
    v("bottleneck", bottleneck);
    v("scale", scale);
    v("dropout", dropout);
    v("targets", targets);
  }
  void validate() const;
};

// CLIP-Adapter (Gao et al. 2021) on the final features of each listed tower:
// f' = ratio * relu(up(relu(down(f)))) + (1 - ratio) * f, bias-free, hidden = embed_dim /
// reduction. Not the identity at init (ratio blends in a randomly initialised MLP, as in the
// paper). PETL's 0.52M = both towers, reduction 2 (2 x 2 x 512 x 256).
struct ClipAdapterConfig {
  int64_t reduction = 4;
  double ratio = 0.2;
  std::vector<std::string> towers{"image", "text"};
  template <class V>
  void visit(V& v) {
    v("reduction", reduction);
    v("ratio", ratio);
    v("towers", towers);
  }
  void validate() const;
};

// MRS-Adapter (Yuan et al. 2023, docs/reference.md): one adapter per tower, reused by every
// target block, parallel to the MLP: A(x) = concat[up_m h, up_shared h],
// h = dropout(relu(down_m x)); up_shared (bottleneck -> shared_dim) is one module for both
// towers. 161,088 parameters on ViT-B-32 with the defaults.
struct MrsAdapterConfig {
  int64_t bottleneck = 64;
  int64_t shared_dim = 64;
  double dropout = 0.5;
  std::vector<std::string> targets{"*.resblocks.*"};
  template <class V>
  void visit(V& v) {
    v("bottleneck", bottleneck);
    v("shared_dim", shared_dim);
    v("dropout", dropout);
    v("targets", targets);
  }
  void validate() const;
};

// open_clip's lock_image_tower / lock_text_tower (LiT: image locked, text trained). Groups
// from the end are unlocked: image [embeddings + ln_pre], blocks 0..L-2, [block L-1 +
// ln_post], proj; text [token + positional embedding], blocks 0..L-2, [block L-1 +
// ln_final], text_projection. Everything outside the towers (logit_scale) stays trainable.
struct LockConfig {
  bool image = true;
  int64_t image_unlocked_groups = 0;
  bool text = false;
  int64_t text_unlocked_layers = 0;
  template <class V>
  void visit(V& v) {
    v("image", image);
    v("image_unlocked_groups", image_unlocked_groups);
    v("text", text);
    v("text_unlocked_layers", text_unlocked_layers);
  }
  void validate() const;
};

struct PeftConfig {
  std::string method = "full";
  LoraConfig lora;
  CoopConfig coop;
  VptConfig vpt;
  HoulsbyConfig houlsby;
  AdaptFormerConfig adaptformer;
  ClipAdapterConfig clip_adapter;
  MrsAdapterConfig mrs_adapter;
  LockConfig lock;
  template <class V>
  void visit(V& v) {
    v("method", method);
    v("lora", lora);
    v("coop", coop);
    v("vpt", vpt);
    v("houlsby", houlsby);
    v("adaptformer", adaptformer);
    v("clip_adapter", clip_adapter);
    v("mrs_adapter", mrs_adapter);
    v("lock", lock);
  }
  void validate() const;  // the method is registered (did-you-mean otherwise)
};

// {"method": ..., "<method>": {its options}} — only the chosen method's section; what
// adapter files carry in their metadata.
nlohmann::json to_json(const PeftConfig& cfg);
// The inverse, validated like YAML input (unknown keys are errors); `where` labels errors.
PeftConfig peft_config_from_json(const nlohmann::json& json, const std::string& where);

}  // namespace rsclip::models::peft
