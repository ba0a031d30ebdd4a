// Methods that add no modules and train a subset of the base parameters under their
// open_clip names, so they always merge (the trained model is a plain open_clip model):
//   full          everything (ordinary fine-tuning, the default)
//   bitfit        every bias term (Ben Zaken et al. 2022): `*.bias` and `attn.in_proj_bias`;
//                 logit_bias is a loss parameter, not a bias of the network, and stays frozen
//   linear_probe  only the final projections `visual.proj` and `text_projection`
//                 (655,360 parameters on ViT-B-32; the PETL paper's "1.05M" linear probe
//                 cannot be the two projections — 2^20 = 1,048,576 matches e.g. extra
//                 512x512 maps it does not specify — so rsclip keeps the plain definition)
//   lock          open_clip's lock_image_tower / lock_text_tower (LiT), see LockConfig
#include <unordered_set>

#include <torch/torch.h>

#include "core/base/error.h"
#include "models/peft/methods.h"

namespace rsclip::models::peft {
namespace {

bool in_group(const std::string& name, const std::string& member) {
  return name == member || name.rfind(member + ".", 0) == 0;
}

std::vector<std::string> all_names(CLIPImpl& model) {
  std::vector<std::string> out;
  for (const auto& p : model.named_parameters()) out.push_back(p.key());
  return out;
}

class Full final : public Method {
 public:
  std::string name() const override { return "full"; }
  std::string prefix() const override { return ""; }
  bool identity_at_init() const override { return true; }
  bool mergeable() const override { return true; }
  void attach(CLIPImpl&, const PeftConfig&) const override {}
  std::vector<std::string> trained_base_parameters(CLIPImpl& model, const PeftConfig&) const override {
    return all_names(model);
  }
};

class BitFit final : public Method {
 public:
  std::string name() const override { return "bitfit"; }
  std::string prefix() const override { return ""; }
  bool identity_at_init() const override { return true; }
  bool mergeable() const override { return true; }
  void attach(CLIPImpl&, const PeftConfig&) const override {}
  std::vector<std::string> trained_base_parameters(CLIPImpl& model, const PeftConfig&) const override {
    std::vector<std::string> out;
    for (const auto& name : all_names(model)) {
      const auto last = name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
      if (last == "bias" || last == "in_proj_bias") out.push_back(name);
    }
    return out;
  }
};

class LinearProbe final : public Method {
 public:
  std::string name() const override { return "linear_probe"; }
  std::string prefix() const override { return ""; }
  bool identity_at_init() const override { return true; }
  bool mergeable() const override { return true; }
  void attach(CLIPImpl& model, const PeftConfig&) const override {
    if (model.cfg.text.proj_type == "none") {
      throw Error("the text tower has no projection to train (proj_type none)", "peft.linear_probe");
    }
  }
  std::vector<std::string> trained_base_parameters(CLIPImpl& model, const PeftConfig&) const override {
    std::vector<std::string> out;
    const std::string text_proj = text_prefix(model) + "text_projection";
    for (const auto& name : all_names(model)) {
      if (name == "visual.proj" || in_group(name, text_proj)) out.push_back(name);
    }
    return out;
  }
};

// open_clip groups, first to last; the last `unlocked` groups are trained.
using Groups = std::vector<std::vector<std::string>>;

Groups image_groups(CLIPImpl& model) {
  const int64_t layers = model.cfg.vision.layers;
  Groups g{{"visual.conv1", "visual.class_embedding", "visual.positional_embedding", "visual.ln_pre"}};
  for (int64_t i = 0; i + 1 < layers; ++i) g.push_back({"visual.transformer.resblocks." + std::to_string(i)});
  g.push_back({"visual.transformer.resblocks." + std::to_string(layers - 1), "visual.ln_post"});
  g.push_back({"visual.proj"});
  return g;
}

Groups text_groups(CLIPImpl& model) {
  const std::string t = text_prefix(model);
  const int64_t layers = model.cfg.text.layers;
  Groups g{{t + "token_embedding", t + "positional_embedding"}};
  for (int64_t i = 0; i + 1 < layers; ++i) g.push_back({t + "transformer.resblocks." + std::to_string(i)});
  g.push_back({t + "transformer.resblocks." + std::to_string(layers - 1), t + "ln_final"});
  if (model.cfg.text.proj_type != "none") g.push_back({t + "text_projection"});
  return g;
}

class Lock final : public Method {
 public:
  std::string name() const override { return "lock"; }
  std::string prefix() const override { return ""; }
  bool identity_at_init() const override { return true; }
  bool mergeable() const override { return true; }
  void attach(CLIPImpl&, const PeftConfig& cfg) const override { check_section(cfg.lock, "peft.lock"); }
  std::vector<std::string> trained_base_parameters(CLIPImpl& model, const PeftConfig& cfg) const override {
    std::unordered_set<std::string> image, text;
    for (const auto& p : model.visual->named_parameters()) image.insert("visual." + p.key());
    for (const auto& p : model.text->named_parameters()) text.insert(text_prefix(model) + p.key());
    auto unlocked = [](const Groups& groups, int64_t n, const std::string& name) {
      const auto count = std::min<std::size_t>(static_cast<std::size_t>(n), groups.size());
      for (std::size_t g = groups.size() - count; g < groups.size(); ++g) {
        for (const auto& member : groups[g]) {
          if (in_group(name, member)) return true;
        }
      }
      return false;
    };
    const auto ig = image_groups(model), tg = text_groups(model);
    std::vector<std::string> out;
    for (const auto& name : all_names(model)) {
      if (cfg.lock.image && image.count(name) && !unlocked(ig, cfg.lock.image_unlocked_groups, name)) continue;
      if (cfg.lock.text && text.count(name) && !unlocked(tg, cfg.lock.text_unlocked_layers, name)) continue;
      out.push_back(name);
    }
    return out;
  }
};

}  // namespace

void LockConfig::validate() const {
  if (image_unlocked_groups < 0) throw Error("image_unlocked_groups must be >= 0", "image_unlocked_groups");
  if (text_unlocked_layers < 0) throw Error("text_unlocked_layers must be >= 0", "text_unlocked_layers");
  if (!image && !text) throw Error("locks neither tower", "", "set image: true and/or text: true (or use method full)");
}

std::unique_ptr<Method> make_full() { return std::make_unique<Full>(); }
std::unique_ptr<Method> make_bitfit() { return std::make_unique<BitFit>(); }
std::unique_ptr<Method> make_linear_probe() { return std::make_unique<LinearProbe>(); }
std::unique_ptr<Method> make_lock() { return std::make_unique<Lock>(); }

}  // namespace rsclip::models::peft
