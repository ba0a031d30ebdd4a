#include "models/peft/methods.h"

#include <algorithm>
#include <cmath>

#include "models/peft/targets.h"

namespace rsclip::models::peft {

std::vector<NamedBlock> named_blocks(CLIPImpl& model) {
  std::vector<NamedBlock> out;
  for (const auto& item : model.named_modules()) {
    if (auto* block = dynamic_cast<ResidualAttentionBlockImpl*>(item.value().get())) {
      const bool image = item.key().rfind("visual.", 0) == 0;
      out.push_back({item.key(), image ? Tower::image : Tower::text, block});
    }
  }
  return out;
}

std::vector<NamedBlock> select_blocks(CLIPImpl& model, const std::vector<std::string>& patterns,
                                      const std::string& section) {
  const auto all = named_blocks(model);
  std::vector<std::string> names;
  for (const auto& b : all) names.push_back(b.name);
  const auto chosen = match_targets(patterns, names, section, "residual attention blocks");
  std::vector<NamedBlock> out;
  for (const auto& b : all) {
    if (std::find(chosen.begin(), chosen.end(), b.name) != chosen.end()) out.push_back(b);
  }
  return out;
}

std::string text_prefix(const CLIPImpl& model) { return model.cfg.custom_text ? "text." : ""; }

void register_on_text(CLIPImpl& model, const std::string& name, const std::shared_ptr<torch::nn::Module>& module) {
  model.text->register_module(name, module);
  if (!model.cfg.custom_text) model.register_module(name, module);
}

std::vector<Tower> parse_towers(const std::vector<std::string>& towers, const std::string& section) {
  std::vector<Tower> out;
  for (const auto& t : towers) {
    Tower tower;
    if (t == "image")
      tower = Tower::image;
    else if (t == "text")
      tower = Tower::text;
    else
      throw Error("unknown tower '" + t + "'", section, "towers are `image` and `text`");
    if (std::find(out.begin(), out.end(), tower) != out.end()) throw Error("tower '" + t + "' listed twice", section);
    out.push_back(tower);
  }
  if (out.empty()) throw Error("no tower listed", section, "list `image`, `text` or both");
  return out;
}

void kaiming_uniform_default(torch::Tensor& weight) {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
}

}  // namespace rsclip::models::peft
