// MRS-Adapter (Yuan, Zhan, Xiong, IEEE TGRS 2023; structure as in the authors' released
// code, docs/reference.md): in every target block of both towers, parallel to the MLP,
//   x' = x + Attn(LN1(x));  out = x' + MLP(LN2(x')) + A(x'),
//   A(x) = concat[up_m h, up_shared h],  h = Dropout(0.5)(ReLU(down_m x)),
// with ONE adapter instance per tower reused by all of its blocks, and the
// bottleneck -> shared_dim up-projection one module for both towers. Up-projections and all
// biases start at zero (the adapted model starts equal to the base), downs kaiming-uniform.
// ViT-B-32 (widths 768 / 512, bottleneck 64, shared 64):
//   image down 768*64+64 + up 64*704+704, text down 512*64+64 + up 64*448+448,
//   shared up 64*64+64  = 161,088.
//
// Names (each module registered once, so each parameter has one name):
//   visual.transformer.mrs_adapter.{down,up}.{weight,bias}   the image tower's adapter
//   transformer.mrs_adapter.{down,up}.{weight,bias}          the text tower's (CLIP layout)
//   mrs_shared_up.{weight,bias}                               shared by both towers
#include <torch/torch.h>

#include "core/base/error.h"
#include "models/peft/methods.h"
#include "models/peft/peft_module.h"

namespace rsclip::models::peft {
namespace {

class MrsAdapterImpl : public TensorHook, public PeftModule {
 public:
  MrsAdapterImpl(int64_t width, const MrsAdapterConfig& cfg, Linear shared_up)
      : shared_up_(std::move(shared_up)), dropout_(cfg.dropout) {
    down = register_module("down", Linear(width, cfg.bottleneck));
    up = register_module("up", Linear(cfg.bottleneck, width - cfg.shared_dim));
    kaiming_uniform_default(down->weight);
    torch::NoGradGuard no_grad;
    down->bias.zero_();
    up->weight.zero_();
    up->bias.zero_();
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    auto h = torch::relu(down->forward(x));
    if (dropout_ > 0) h = torch::dropout(h, dropout_, is_training());
    return torch::cat({up->forward(h), shared_up_->forward(h)}, -1);
  }
  std::string method() const override { return "mrs_adapter"; }

  Linear down{nullptr}, up{nullptr};

 private:
  Linear shared_up_;  // registered on the CLIP model, called from here
  double dropout_;
};

class MrsAdapter final : public Method {
 public:
  std::string name() const override { return "mrs_adapter"; }
  std::string prefix() const override { return "mrs_"; }
  bool identity_at_init() const override { return true; }
  bool mergeable() const override { return false; }
  void attach(CLIPImpl& model, const PeftConfig& cfg) const override {
    const auto& c = cfg.mrs_adapter;
    check_section(c, "peft.mrs_adapter");
    const auto blocks = select_blocks(model, c.targets, "peft.mrs_adapter.targets");
    for (const auto& [tower, width] :
         {std::pair{Tower::image, model.cfg.vision.width}, std::pair{Tower::text, model.cfg.text.width}}) {
      if (c.shared_dim >= width) {
        throw Error(fmt::format("shared_dim {} leaves no room for the {} tower's own up-projection (width {})",
                                c.shared_dim, tower == Tower::image ? "image" : "text", width),
                    "peft.mrs_adapter.shared_dim", "shared_dim must be smaller than both tower widths");
      }
    }
    Linear shared_up(c.bottleneck, c.shared_dim);
    {
      torch::NoGradGuard no_grad;
      shared_up->weight.zero_();
      shared_up->bias.zero_();
    }
    model.register_module("mrs_shared_up", shared_up);
    for (Tower tower : {Tower::image, Tower::text}) {
      auto& transformer = tower == Tower::image ? model.visual->transformer : model.text->transformer;
      std::shared_ptr<MrsAdapterImpl> adapter;
      for (const auto& b : blocks) {
        if (b.tower != tower) continue;
        if (!adapter) {
          adapter = std::make_shared<MrsAdapterImpl>(transformer->width, c, shared_up);
          transformer->register_module("mrs_adapter", adapter);
        }
        b.block->parallel_adapter = adapter;
      }
    }
  }
};

}  // namespace

void MrsAdapterConfig::validate() const {
  if (bottleneck < 1) throw Error("bottleneck must be at least 1", "bottleneck");
  if (shared_dim < 1) throw Error("shared_dim must be at least 1", "shared_dim");
  if (!(dropout >= 0 && dropout < 1)) throw Error("dropout must be in [0, 1)", "dropout");
}

std::unique_ptr<Method> make_mrs_adapter() { return std::make_unique<MrsAdapter>(); }

}  // namespace rsclip::models::peft
