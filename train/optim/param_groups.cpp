// Parameter groups: open_clip's no-decay rule, per-tower overrides, layer-wise lr decay
// (the rules are documented in optimizer.h).
#include <cmath>
#include <map>
#include <regex>
#include <tuple>

#include "core/base/config.h"
#include "train/optim/optimizer.h"

namespace rsclip::train {
namespace {

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }
bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Index N of "resblocks.N." / "blocks.N." in a parameter name, or -1.
int64_t block_index(const std::string& name) {
  static const std::regex pattern(R"((?:^|\.)(?:resblocks|blocks)\.(\d+)\.)");
  std::smatch m;
  if (!std::regex_search(name, m, pattern)) return -1;
  return std::stoll(m[1].str());
}

// The name inside its tower: "visual.conv1.weight" -> "conv1.weight".
std::string strip_tower(const std::string& name) {
  if (starts_with(name, "visual.")) return name.substr(7);
  if (starts_with(name, "text.")) return name.substr(5);
  return name;
}

void check_positive(double value, const char* key) {
  if (!(value > 0) || !std::isfinite(value)) throw Error("must be a positive number", key);
}
void check_non_negative(double value, const char* key) {
  if (!(value >= 0) || !std::isfinite(value)) throw Error("must be a number >= 0", key);
}

}  // namespace

void OptimizerConfig::validate() const {
  if (name != "adamw" && name != "adam") {
    throw Error("unknown optimizer '" + name + "'" + config::did_you_mean(name, {"adamw", "adam"}), "name",
                "use adamw or adam");
  }
  if (impl != "auto" && impl != "fused" && impl != "foreach" && impl != "loop") {
    throw Error("unknown impl '" + impl + "'" + config::did_you_mean(impl, {"auto", "fused", "foreach", "loop"}),
                "impl", "use auto, fused, foreach or loop");
  }
  check_non_negative(lr, "lr");
  check_non_negative(weight_decay, "weight_decay");
  check_non_negative(eps, "eps");
  if (!(beta1 >= 0 && beta1 < 1)) throw Error("must be in [0, 1)", "beta1");
  if (!(beta2 >= 0 && beta2 < 1)) throw Error("must be in [0, 1)", "beta2");
  if (!(layer_decay > 0 && layer_decay <= 1)) throw Error("must be in (0, 1]", "layer_decay", "1 turns it off");
  using Override = std::pair<const TowerOptimConfig*, const char*>;
  for (const auto& [tower, key] : {Override{&visual, "visual"}, Override{&text, "text"}}) {
    try {
      if (tower->lr) check_non_negative(*tower->lr, "lr");
      if (tower->weight_decay) check_non_negative(*tower->weight_decay, "weight_decay");
    } catch (const Error& e) {
      throw e.within(key);
    }
  }
  if (grad_clip_norm) check_positive(*grad_clip_norm, "grad_clip_norm");
}

bool is_no_decay(const std::string& name, const torch::Tensor& param) {
  // open_clip_train/main.py: p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or 'logit_scale' in n
  return param.dim() < 2 || contains(name, "bn") || contains(name, "ln") || contains(name, "bias") ||
         contains(name, "logit_scale");
}

Tower tower_of(const std::string& name) {
  if (starts_with(name, "visual.")) return Tower::visual;
  if (starts_with(name, "text.") || starts_with(name, "token_embedding") || starts_with(name, "positional_embedding") ||
      starts_with(name, "transformer.") || starts_with(name, "ln_final.") || starts_with(name, "text_projection")) {
    return Tower::text;
  }
  return Tower::shared;
}

int64_t layer_id(const std::string& name, int64_t num_layers) {
  const int64_t block = block_index(name);
  if (block >= 0) return block + 1;
  const std::string inner = strip_tower(name);
  const std::string head = inner.substr(0, inner.find('.'));
  static const char* const embeddings[] = {"class_embedding", "positional_embedding", "token_embedding", "conv1",
                                           "ln_pre",          "patch_embed",          "cls_token",       "pos_embed"};
  for (const char* e : embeddings) {
    if (head == e) return 0;
  }
  return num_layers + 1;
}

std::vector<ParamGroup> build_param_groups(const StateDict& named_parameters, const OptimizerConfig& config) {
  config.validate();
  const bool llrd = config.layer_decay != 1.0;
  // Resblock count per tower, from every parameter (frozen ones too: depth is structural).
  std::map<Tower, int64_t> depth;
  for (const auto& item : named_parameters) {
    depth[tower_of(item.key())] = std::max(depth[tower_of(item.key())], block_index(item.key()) + 1);
  }

  // Group key: (no decay?, tower or "all", layer id or -1); order of first appearance.
  using Key = std::tuple<bool, int, int64_t>;
  std::map<Key, std::size_t> index;
  std::vector<std::pair<Key, ParamGroup>> groups;
  for (const auto& item : named_parameters) {
    const std::string& name = item.key();
    const torch::Tensor& p = item.value();
    if (!p.requires_grad()) continue;
    const bool no_decay = is_no_decay(name, p);
    const Tower tower = tower_of(name);
    const TowerOptimConfig* over = tower == Tower::visual ? &config.visual
                                   : tower == Tower::text ? &config.text
                                                          : nullptr;
    const bool split_tower = tower != Tower::shared && (llrd || over->lr || over->weight_decay);
    const int64_t layer = llrd && tower != Tower::shared ? layer_id(name, depth[tower]) : -1;
    const Key key{!no_decay, split_tower ? static_cast<int>(tower) : -1, layer};

    auto it = index.find(key);
    if (it == index.end()) {
      ParamGroup g;
      const double tower_lr = over && over->lr ? *over->lr : config.lr;
      const double tower_wd = over && over->weight_decay ? *over->weight_decay : config.weight_decay;
      g.base_lr = layer >= 0 ? tower_lr * std::pow(config.layer_decay, static_cast<double>(depth[tower] + 1 - layer))
                             : tower_lr;
      g.weight_decay = no_decay ? 0.0 : tower_wd;
      g.lr = g.base_lr;
      g.name = split_tower ? (tower == Tower::visual ? "visual." : "text.") : (llrd ? "shared." : "");
      g.name += no_decay ? "no_decay" : "decay";
      if (layer >= 0) g.name += ".layer" + std::to_string(layer);
      it = index.emplace(key, groups.size()).first;
      groups.emplace_back(key, std::move(g));
    }
    auto& g = groups[it->second].second;
    g.names.push_back(name);
    g.params.push_back(p);
  }
  // open_clip's order: the no-decay group first. stable_sort keeps first appearance otherwise.
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a.first) < std::get<0>(b.first); });
  std::vector<ParamGroup> out;
  out.reserve(groups.size());
  for (auto& [key, g] : groups) out.push_back(std::move(g));
  return out;
}

}  // namespace rsclip::train
