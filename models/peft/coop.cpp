// CoOp (Zhou et al., IJCV 2022): n_ctx learnable context vectors in the text token
// embeddings, shared by all prompts (CoOp's unified context), placed by
// class_token_position as documented in peft_config.h. CoOp builds "X X .. X name." with the
// tokenizer and overwrites the X embeddings; rsclip's model sees token ids only, so the
// context is inserted into the embedding sequence instead — the same sequence CoOp feeds
// the transformer — and the ids handed to pooling are shifted alike, so argmax pooling finds
// the moved EOT. Positional embeddings are added afterwards, as in CoOp.
//
// Name: `coop_context.ctx` [n_ctx, width] (`text.coop_context.ctx` for CustomTextCLIP).
#include <torch/torch.h>

#include "core/base/error.h"
#include "models/peft/methods.h"
#include "models/peft/peft_module.h"

namespace rsclip::models::peft {
namespace {

class CoopContextImpl : public TextEmbedHook, public PeftModule {
 public:
  CoopContextImpl(int64_t width, const CoopConfig& cfg)
      : n_(cfg.n_ctx),
        before_(cfg.class_token_position == "end"     ? cfg.n_ctx
                : cfg.class_token_position == "front" ? 0
                                                      : cfg.n_ctx / 2) {
    ctx = register_parameter("ctx", torch::empty({n_, width}));
    torch::NoGradGuard no_grad;
    ctx.normal_(0.0, cfg.init_std);
  }

  TextEmbedding forward(const torch::Tensor& emb, const torch::Tensor& tokens) override {
    const int64_t batch = emb.size(0), length = emb.size(1), width = emb.size(2);
    // Output position p takes row idx[p] of [emb; ctx] (length + n_ rows). With e the EOT
    // position and n1 = before_ context vectors before the text:
    //   p = 0                 SOS
    //   1 <= p < 1 + n1       ctx[p - 1]
    //   1 + n1 <= p < e + n1  text token p - n1
    //   e + n1 <= p < e + n   ctx[p - e]
    //   p >= e + n            EOT and padding, p - n
    const auto e = tokens.argmax(-1, /*keepdim=*/true);
    const auto p = torch::arange(length, tokens.options().dtype(torch::kLong)).unsqueeze(0);
    auto idx = torch::where(p < e + n_, length + p - e, p - n_);
    idx = torch::where(p < e + before_, p - before_, idx);
    idx = torch::where(p < 1 + before_, length + p - 1, idx);
    idx = torch::where(p < 1, p, idx);
    // Rows whose EOT would be pushed past the end keep their first tokens and end in EOT.
    auto last = idx.select(1, length - 1);
    last.copy_(torch::where(e.squeeze(1) + n_ > length - 1, e.squeeze(1), last));

    const auto context = ctx.to(emb.scalar_type()).unsqueeze(0).expand({batch, n_, width});
    const auto rows = torch::cat({emb, context}, 1);
    const auto ids = torch::cat({tokens, torch::zeros({batch, n_}, tokens.options())}, 1);
    return {torch::gather(rows, 1, idx.unsqueeze(-1).expand({batch, length, width})), torch::gather(ids, 1, idx)};
  }
  std::string method() const override { return "coop"; }

  torch::Tensor ctx;

 private:
  int64_t n_, before_;
};

class Coop final : public Method {
 public:
  std::string name() const override { return "coop"; }
  std::string prefix() const override { return "coop_"; }
  bool identity_at_init() const override { return false; }
  bool mergeable() const override { return false; }
  void attach(CLIPImpl& model, const PeftConfig& cfg) const override {
    check_section(cfg.coop, "peft.coop");
    if (model.cfg.text.pool_type != "argmax") {
      throw Error("coop needs a text tower pooled at the EOT token (pool_type argmax), this one uses '" +
                      model.cfg.text.pool_type + "'",
                  "peft.coop", "CoOp is defined for CLIP's BPE text tower");
    }
    if (cfg.coop.n_ctx > model.cfg.text.context_length - 2) {
      throw Error(fmt::format("n_ctx {} leaves no room in a context of {} tokens", cfg.coop.n_ctx,
                              model.cfg.text.context_length),
                  "peft.coop.n_ctx");
    }
    auto context = std::make_shared<CoopContextImpl>(model.cfg.text.width, cfg.coop);
    register_on_text(model, "coop_context", context);
    model.text->embed_hook = context;
  }
};

}  // namespace

void CoopConfig::validate() const {
  if (n_ctx < 1) throw Error("n_ctx must be at least 1", "n_ctx");
  if (class_token_position != "end" && class_token_position != "middle" && class_token_position != "front") {
    throw Error("class_token_position must be end, middle or front, got '" + class_token_position + "'",
                "class_token_position");
  }
  if (!(init_std > 0)) throw Error("init_std must be positive", "init_std");
}

std::unique_ptr<Method> make_coop() { return std::make_unique<Coop>(); }

}  // namespace rsclip::models::peft
