// Parameter groups: equal to open_clip_train's for the named parameters of random open_clip
// models (exported by scripts/reference/optim_reference.py), and the per-tower and
// layer-wise lr decay rules of train/optim/optimizer.h.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/reference/reference_cache.h"
#include "tests/reference/test_support.h"
#include "train/optim/optimizer.h"

namespace rsclip::train {
namespace {

// Shapes only matter: meta tensors hold no memory (ViT-B-32 has 151M parameters).
StateDict meta_parameters(const nlohmann::json& list) {
  StateDict out;
  for (const auto& entry : list) {
    auto t = torch::empty(entry[1].get<std::vector<int64_t>>(), torch::TensorOptions().device(torch::kMeta));
    t.set_requires_grad(entry[2].get<bool>());
    out.insert(entry[0].get<std::string>(), t);
  }
  return out;
}

TEST(ParamGroupsReference, EqualOpenClipTrainGrouping) {
  const auto cases = nlohmann::json::parse(
      std::ifstream(rsclip::testing::cached_reference({"scripts/reference/optim_reference.py"}, {"groups"}, ".json")));
  ASSERT_EQ(cases.size(), 3u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["model"].get<std::string>());
    OptimizerConfig cfg;
    cfg.weight_decay = 0.1;
    cfg.lr = 1e-4;
    const auto groups = build_param_groups(meta_parameters(c["parameters"]), cfg);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].name, "no_decay");
    EXPECT_EQ(groups[0].names, c["no_decay"].get<std::vector<std::string>>());
    EXPECT_EQ(groups[0].weight_decay, 0.0);
    EXPECT_EQ(groups[1].name, "decay");
    EXPECT_EQ(groups[1].names, c["decay"].get<std::vector<std::string>>());
    EXPECT_EQ(groups[1].weight_decay, 0.1);
    for (const auto& g : groups) {
      EXPECT_EQ(g.base_lr, 1e-4);
      EXPECT_EQ(g.lr, 1e-4);
      EXPECT_EQ(g.names.size(), g.params.size());
    }
    std::printf("  %-28s no_decay %zu, decay %zu parameters\n", c["model"].get<std::string>().c_str(),
                groups[0].names.size(), groups[1].names.size());
  }
}

// A small CLIP-shaped name set: 3 visual and 2 text blocks.
StateDict toy_clip() {
  StateDict p;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    p.insert(name, torch::zeros(shape).requires_grad_(true));
  };
  add("logit_scale", {});
  add("visual.class_embedding", {8});
  add("visual.positional_embedding", {5, 8});
  add("visual.proj", {8, 4});
  add("visual.conv1.weight", {8, 3, 2, 2});
  add("visual.ln_pre.weight", {8});
  for (int i = 0; i < 3; ++i) {
    const std::string b = "visual.transformer.resblocks." + std::to_string(i) + ".";
    add(b + "attn.in_proj_weight", {24, 8});
    add(b + "attn.in_proj_bias", {24});
    add(b + "ln_1.weight", {8});
  }
  add("visual.ln_post.weight", {8});
  add("token_embedding.weight", {10, 4});
  add("positional_embedding", {7, 4});
  add("text_projection", {4, 4});
  for (int i = 0; i < 2; ++i) {
    const std::string b = "transformer.resblocks." + std::to_string(i) + ".";
    add(b + "mlp.c_fc.weight", {16, 4});
    add(b + "mlp.c_fc.bias", {16});
  }
  add("ln_final.weight", {4});
  return p;
}

const ParamGroup* group_of(const std::vector<ParamGroup>& groups, const std::string& param) {
  for (const auto& g : groups) {
    if (std::find(g.names.begin(), g.names.end(), param) != g.names.end()) return &g;
  }
  return nullptr;
}

TEST(ParamGroups, LayerIdsAndTowers) {
  EXPECT_EQ(tower_of("visual.conv1.weight"), Tower::visual);
  EXPECT_EQ(tower_of("text.transformer.resblocks.0.ln_1.weight"), Tower::text);
  EXPECT_EQ(tower_of("token_embedding.weight"), Tower::text);
  EXPECT_EQ(tower_of("text_projection"), Tower::text);
  EXPECT_EQ(tower_of("logit_scale"), Tower::shared);
  EXPECT_EQ(layer_id("visual.class_embedding", 12), 0);
  EXPECT_EQ(layer_id("visual.conv1.weight", 12), 0);
  EXPECT_EQ(layer_id("visual.ln_pre.bias", 12), 0);
  EXPECT_EQ(layer_id("visual.transformer.resblocks.0.attn.in_proj_weight", 12), 1);
  EXPECT_EQ(layer_id("visual.transformer.resblocks.11.mlp.c_fc.weight", 12), 12);
  EXPECT_EQ(layer_id("visual.ln_post.weight", 12), 13);
  EXPECT_EQ(layer_id("visual.proj", 12), 13);
  EXPECT_EQ(layer_id("token_embedding.weight", 12), 0);
  EXPECT_EQ(layer_id("positional_embedding", 12), 0);
  EXPECT_EQ(layer_id("text.transformer.resblocks.3.ln_1.weight", 12), 4);
  EXPECT_EQ(layer_id("ln_final.weight", 12), 13);
  EXPECT_EQ(layer_id("text_projection", 12), 13);
  EXPECT_TRUE(is_no_decay("visual.transformer.resblocks.0.ln_1.weight", torch::zeros({8, 8})));  // "ln" in name
  EXPECT_TRUE(is_no_decay("logit_scale", torch::zeros({})));
  EXPECT_TRUE(is_no_decay("visual.class_embedding", torch::zeros({8})));  // ndim < 2
  EXPECT_FALSE(is_no_decay("visual.proj", torch::zeros({8, 4})));
}

TEST(ParamGroups, LayerwiseDecayPerTower) {
  OptimizerConfig cfg;
  cfg.lr = 1e-3;
  cfg.layer_decay = 0.5;
  const auto groups = build_param_groups(toy_clip(), cfg);
  auto lr_of = [&](const std::string& n) {
    const auto* g = group_of(groups, n);
    EXPECT_NE(g, nullptr) << n;
    return g ? g->base_lr : -1.0;
  };
  // visual: L = 3, lr * 0.5^(4 - id)
  EXPECT_DOUBLE_EQ(lr_of("visual.conv1.weight"), 1e-3 * std::pow(0.5, 4));
  EXPECT_DOUBLE_EQ(lr_of("visual.class_embedding"), 1e-3 * std::pow(0.5, 4));
  EXPECT_DOUBLE_EQ(lr_of("visual.transformer.resblocks.0.attn.in_proj_weight"), 1e-3 * std::pow(0.5, 3));
  EXPECT_DOUBLE_EQ(lr_of("visual.transformer.resblocks.2.attn.in_proj_bias"), 1e-3 * 0.5);
  EXPECT_DOUBLE_EQ(lr_of("visual.proj"), 1e-3);
  EXPECT_DOUBLE_EQ(lr_of("visual.ln_post.weight"), 1e-3);
  // text: L = 2, lr * 0.5^(3 - id)
  EXPECT_DOUBLE_EQ(lr_of("token_embedding.weight"), 1e-3 * std::pow(0.5, 3));
  EXPECT_DOUBLE_EQ(lr_of("transformer.resblocks.0.mlp.c_fc.weight"), 1e-3 * std::pow(0.5, 2));
  EXPECT_DOUBLE_EQ(lr_of("transformer.resblocks.1.mlp.c_fc.bias"), 1e-3 * 0.5);
  EXPECT_DOUBLE_EQ(lr_of("ln_final.weight"), 1e-3);
  EXPECT_DOUBLE_EQ(lr_of("logit_scale"), 1e-3);
  // Decay split still holds inside a layer.
  EXPECT_EQ(group_of(groups, "visual.transformer.resblocks.0.attn.in_proj_bias")->weight_decay, 0.0);
  EXPECT_EQ(group_of(groups, "visual.transformer.resblocks.0.attn.in_proj_weight")->weight_decay, 0.2);
  EXPECT_EQ(group_of(groups, "visual.transformer.resblocks.0.attn.in_proj_weight")->name, "visual.decay.layer1");
  // Every trainable parameter is in exactly one group; no-decay groups come first.
  std::size_t total = 0;
  bool seen_decay = false;
  for (const auto& g : groups) {
    total += g.names.size();
    if (g.weight_decay > 0)
      seen_decay = true;
    else
      EXPECT_FALSE(seen_decay) << g.name;
  }
  EXPECT_EQ(total, toy_clip().size());
}

TEST(ParamGroups, TowerOverridesAndFrozenParameters) {
  auto params = toy_clip();
  params["visual.conv1.weight"].set_requires_grad(false);
  OptimizerConfig cfg;
  cfg.lr = 1e-4;
  cfg.weight_decay = 0.05;
  cfg.visual.lr = 1e-5;
  cfg.text.weight_decay = 0.0;
  const auto groups = build_param_groups(params, cfg);
  EXPECT_EQ(group_of(groups, "visual.conv1.weight"), nullptr);
  EXPECT_EQ(group_of(groups, "visual.proj")->base_lr, 1e-5);
  EXPECT_EQ(group_of(groups, "visual.proj")->weight_decay, 0.05);
  EXPECT_EQ(group_of(groups, "visual.proj")->name, "visual.decay");
  EXPECT_EQ(group_of(groups, "text_projection")->base_lr, 1e-4);
  EXPECT_EQ(group_of(groups, "text_projection")->weight_decay, 0.0);
  EXPECT_EQ(group_of(groups, "logit_scale")->base_lr, 1e-4);
  EXPECT_EQ(group_of(groups, "logit_scale")->name, "no_decay");
}

TEST(ParamGroups, ConfigValidation) {
  OptimizerConfig cfg;
  cfg.name = "sgd";
  EXPECT_THROW(cfg.validate(), Error);
  cfg = {};
  cfg.impl = "fast";
  EXPECT_THROW(cfg.validate(), Error);
  cfg = {};
  cfg.layer_decay = 1.5;
  EXPECT_THROW(cfg.validate(), Error);
  cfg = {};
  cfg.visual.lr = -1;
  EXPECT_THROW(cfg.validate(), Error);
  cfg = {};
  cfg.grad_clip_norm = 0.0;
  EXPECT_THROW(cfg.validate(), Error);
}

}  // namespace
}  // namespace rsclip::train
