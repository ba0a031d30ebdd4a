// Bottleneck adapters: Houlsby (sequential, after attention and after the MLP), AdaptFormer
// (parallel to the MLP, scaled) and CLIP-Adapter (residual MLP blended into the final
// features). Options and defaults are documented in peft_config.h.
//
// Names: `<block>.houlsby_attn.{down,up}.{weight,bias}`, `<block>.houlsby_mlp.…`,
// `<block>.adaptformer_mlp.{down,up}.{weight,bias}`, `visual.clip_adapter_mlp.{down,up}.weight`
// and `clip_adapter_mlp.…` for the text tower (`text.clip_adapter_mlp.…` for CustomTextCLIP).
#include <torch/torch.h>

#include "core/base/error.h"
#include "models/peft/methods.h"
#include "models/peft/peft_module.h"

namespace rsclip::models::peft {
namespace {

struct BottleneckOptions {
  std::string method;
  int64_t width = 0, bottleneck = 0;
  std::string activation = "relu";
  double dropout = 0.0, scale = 1.0;
  bool residual = false;  // Houlsby: the adapter carries its own skip connection
};

// x (+ residual) -> scale * up(dropout(act(down(x)))); down kaiming-uniform, up and both
// biases zero, so the branch is exactly zero (the residual form exactly identity) at init.
class BottleneckImpl : public TensorHook, public PeftModule {
 public:
  explicit BottleneckImpl(BottleneckOptions o) : o_(std::move(o)), gelu_(o_.activation == "gelu") {
    down = register_module("down", Linear(o_.width, o_.bottleneck));
    up = register_module("up", Linear(o_.bottleneck, o_.width));
    kaiming_uniform_default(down->weight);
    torch::NoGradGuard no_grad;
    down->bias.zero_();
    up->weight.zero_();
    up->bias.zero_();
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    auto h = down->forward(x);
    h = gelu_ ? at::gelu(h) : torch::relu(h);
    if (o_.dropout > 0) h = torch::dropout(h, o_.dropout, is_training());
    auto y = up->forward(h);
    if (o_.scale != 1.0) y = y * o_.scale;
    return o_.residual ? x + y : y;
  }
  std::string method() const override { return o_.method; }

  Linear down{nullptr}, up{nullptr};

 private:
  BottleneckOptions o_;
  bool gelu_;
};

class Houlsby final : public Method {
 public:
  std::string name() const override { return "houlsby"; }
  std::string prefix() const override { return "houlsby_"; }
  bool identity_at_init() const override { return true; }
  bool mergeable() const override { return false; }
  void attach(CLIPImpl& model, const PeftConfig& cfg) const override {
    check_section(cfg.houlsby, "peft.houlsby");
    for (const auto& b : select_blocks(model, cfg.houlsby.targets, "peft.houlsby.targets")) {
      BottleneckOptions o{"houlsby", b.block->attn->dim, cfg.houlsby.bottleneck, cfg.houlsby.activation, 0.0, 1.0,
                          true};
      auto attn = std::make_shared<BottleneckImpl>(o);
      auto mlp = std::make_shared<BottleneckImpl>(o);
      b.block->register_module("houlsby_attn", attn);
      b.block->register_module("houlsby_mlp", mlp);
      b.block->attn_adapter = attn;
      b.block->mlp_adapter = mlp;
    }
  }
};

class AdaptFormer final : public Method {
 public:
  std::string name() const override { return "adaptformer"; }
  std::string prefix() const override { return "adaptformer_"; }
  bool identity_at_init() const override { return true; }
  bool mergeable() const override { return false; }
  void attach(CLIPImpl& model, const PeftConfig& cfg) const override {
    const auto& c = cfg.adaptformer;
    check_section(c, "peft.adaptformer");
    for (const auto& b : select_blocks(model, c.targets, "peft.adaptformer.targets")) {
      auto adapter = std::make_shared<BottleneckImpl>(
          BottleneckOptions{"adaptformer", b.block->attn->dim, c.bottleneck, "relu", c.dropout, c.scale, false});
      b.block->register_module("adaptformer_mlp", adapter);
      b.block->parallel_adapter = adapter;
    }
  }
};

// CLIP-Adapter's residual feature adapter (bias-free, ReLU after both layers).
class ClipAdapterMlpImpl : public TensorHook, public PeftModule {
 public:
  ClipAdapterMlpImpl(int64_t dim, int64_t hidden, double ratio) : ratio_(ratio) {
    down = register_module("down", Linear(dim, hidden, false));
    up = register_module("up", Linear(hidden, dim, false));
  }
  torch::Tensor forward(const torch::Tensor& f) override {
    auto a = torch::relu(up->forward(torch::relu(down->forward(f))));
    return ratio_ * a + (1.0 - ratio_) * f;
  }
  std::string method() const override { return "clip_adapter"; }

  Linear down{nullptr}, up{nullptr};

 private:
  double ratio_;
};

class ClipAdapter final : public Method {
 public:
  std::string name() const override { return "clip_adapter"; }
  std::string prefix() const override { return "clip_adapter_"; }
  bool identity_at_init() const override { return false; }
  bool mergeable() const override { return false; }
  void attach(CLIPImpl& model, const PeftConfig& cfg) const override {
    const auto& c = cfg.clip_adapter;
    check_section(c, "peft.clip_adapter");
    const int64_t dim = model.cfg.embed_dim;
    if (dim % c.reduction != 0) {
      throw Error(fmt::format("reduction {} does not divide embed_dim {}", c.reduction, dim),
                  "peft.clip_adapter.reduction");
    }
    for (Tower t : parse_towers(c.towers, "peft.clip_adapter.towers")) {
      auto mlp = std::make_shared<ClipAdapterMlpImpl>(dim, dim / c.reduction, c.ratio);
      if (t == Tower::image) {
        model.visual->register_module("clip_adapter_mlp", mlp);
        model.visual->feature_hook = mlp;
      } else {
        register_on_text(model, "clip_adapter_mlp", mlp);
        model.text->feature_hook = mlp;
      }
    }
  }
};

}  // namespace

void HoulsbyConfig::validate() const {
  if (bottleneck < 1) throw Error("bottleneck must be at least 1", "bottleneck");
  if (activation != "relu" && activation != "gelu") throw Error("activation must be relu or gelu", "activation");
}

void AdaptFormerConfig::validate() const {
  if (bottleneck < 1) throw Error("bottleneck must be at least 1", "bottleneck");
  if (!(dropout >= 0 && dropout < 1)) throw Error("dropout must be in [0, 1)", "dropout");
  if (!std::isfinite(scale)) throw Error("scale must be finite", "scale");
}

void ClipAdapterConfig::validate() const {
  if (reduction < 1) throw Error("reduction must be at least 1", "reduction");
  if (!(ratio >= 0 && ratio <= 1)) throw Error("ratio must be in [0, 1]", "ratio");
}

std::unique_ptr<Method> make_houlsby() { return std::make_unique<Houlsby>(); }
std::unique_ptr<Method> make_adaptformer() { return std::make_unique<AdaptFormer>(); }
std::unique_ptr<Method> make_clip_adapter() { return std::make_unique<ClipAdapter>(); }

}  // namespace rsclip::models::peft
