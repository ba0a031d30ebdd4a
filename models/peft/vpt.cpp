// VPT (Jia et al., ECCV 2022) on the image tower: num_tokens learnable prompt tokens placed
// right after the class token, [CLS, P_1..P_n, patches]; shallow inserts them before the
// first block only, deep replaces them with the next layer's prompts before every block.
// After the last block the prompt tokens are removed again, so pooling (class token or
// patch average) sees the tower's own tokens. Not the identity at init (attention sees
// the prompts). Init: VPT's uniform(-b, b), b = sqrt(6 / (3 * patch^2 + width)).
//
// Name: `visual.vpt_prompts.tokens` [layers (deep) or 1 (shallow), num_tokens, width].
#include <cmath>

#include <torch/torch.h>

#include "core/base/error.h"
#include "models/peft/methods.h"
#include "models/peft/peft_module.h"

namespace rsclip::models::peft {
namespace {

class VptPromptsImpl : public TokenHook, public PeftModule {
 public:
  VptPromptsImpl(const VisionConfig& vision, const VptConfig& cfg) : n_(cfg.num_tokens), dropout_(cfg.dropout) {
    tokens = register_parameter("tokens", torch::empty({cfg.deep ? vision.layers : 1, n_, vision.width}));
    const double bound = std::sqrt(6.0 / (3.0 * vision.patch_size * vision.patch_size + vision.width));
    torch::NoGradGuard no_grad;
    tokens.uniform_(-bound, bound);
  }

  torch::Tensor before_block(const torch::Tensor& x, int64_t block) override {
    if (block >= tokens.size(0)) return x;  // shallow: the prompts inserted before block 0 travel on
    auto p = tokens[block].to(x.scalar_type()).unsqueeze(0).expand({x.size(0), -1, -1});
    if (dropout_ > 0) p = torch::dropout(p, dropout_, is_training());
    const auto rest = block == 0 ? x.slice(1, 1) : x.slice(1, 1 + n_);
    return torch::cat({x.slice(1, 0, 1), p, rest}, 1);
  }
  torch::Tensor after_blocks(const torch::Tensor& x) override {
    return torch::cat({x.slice(1, 0, 1), x.slice(1, 1 + n_)}, 1);
  }
  std::string method() const override { return "vpt"; }

  torch::Tensor tokens;

 private:
  int64_t n_;
  double dropout_;
};

class Vpt final : public Method {
 public:
  std::string name() const override { return "vpt"; }
  std::string prefix() const override { return "vpt_"; }
  bool identity_at_init() const override { return false; }
  bool mergeable() const override { return false; }
  void attach(CLIPImpl& model, const PeftConfig& cfg) const override {
    check_section(cfg.vpt, "peft.vpt");
    auto prompts = std::make_shared<VptPromptsImpl>(model.cfg.vision, cfg.vpt);
    model.visual->register_module("vpt_prompts", prompts);
    model.visual->transformer->token_hook = prompts;
  }
};

}  // namespace

void VptConfig::validate() const {
  if (num_tokens < 1) throw Error("num_tokens must be at least 1", "num_tokens");
  if (!(dropout >= 0 && dropout < 1)) throw Error("dropout must be in [0, 1)", "dropout");
}

std::unique_ptr<Method> make_vpt() { return std::make_unique<Vpt>(); }

}  // namespace rsclip::models::peft
