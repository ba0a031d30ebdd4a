// The PEFT contract (docs/architecture.md "PEFT as plugins"), one parameterised suite over every
// registered method on ViT-tiny-test:
//   - the trainable-parameter count equals a closed-form count written here, and the
//     trainable names are exactly the method's (prefix or its documented base subset);
//   - identity at init (where the method says so), otherwise the output differs;
//   - after AdamW steps on a contrastive loss, with ALL parameters handed to the optimiser,
//     exactly the method's tensors changed (every tensor compared bitwise);
//   - merged == unmerged == exported-and-reloaded (mergeable), or a clear refusal;
//   - adapter save / load onto the base checkpoint round-trips bitwise;
//   - bf16 autocast forward is finite; gradient checkpointing gives the same gradients.
#include <set>

#include <gtest/gtest.h>

#include "core/base/autocast.h"
#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "models/clip/load_state.h"
#include "models/peft/adapter_io.h"
#include "models/peft/peft.h"
#include "tests/models/peft/peft_test_support.h"
#include "tests/reference/test_support.h"

namespace rsclip::models::peft {
namespace {

// ViT-tiny-test: embed 32; image width 64, 2 blocks, patch 8 on 32x32 (17 tokens);
// text width 64, 2 blocks, context 77, vocab 49408.
constexpr int64_t E = 32, VW = 64, VL = 2, TW = 64, TL = 2, PATCH = 8, VT = 17, CTX = 77, VOCAB = 49408;
constexpr int64_t block_params(int64_t w) { return 12 * w * w + 13 * w; }  // 2 LN, in_proj, out_proj, MLP x4
constexpr int64_t IMAGE = 3 * PATCH * PATCH * VW + VW + VT * VW + 2 * VW + VL * block_params(VW) + 2 * VW + VW * E;
constexpr int64_t TEXT = VOCAB * TW + CTX * TW + TL * block_params(TW) + 2 * TW + TW * E;
constexpr int64_t TOTAL = IMAGE + TEXT + 1;  // + logit_scale

struct Case {
  std::string label;
  PeftConfig cfg;
  int64_t trainable;  // closed form
};

std::vector<Case> cases() {
  std::vector<Case> out;
  auto add = [&](std::string label, const std::string& method, auto edit, int64_t count) {
    PeftConfig c;
    c.method = method;
    edit(c);
    out.push_back({std::move(label), c, count});
  };
  auto none = [](PeftConfig&) {};
  add("full", "full", none, TOTAL);
  // in_proj q and v: per attention 2 x (A r*w + B w*r).
  add(
      "lora_qv", "lora", [](PeftConfig& c) { c.lora.rank = 4; }, VL * 2 * 2 * 4 * VW + TL * 2 * 2 * 4 * TW);
  add(
      "lora_all_linears", "lora",
      [](PeftConfig& c) {
        c.lora.rank = 2;
        c.lora.alpha = 4;
        c.lora.dropout = 0.1;
        c.lora.qkv = "qkv";
        c.lora.targets = {"visual.transformer.resblocks.*.attn.in_proj", "*.attn.out_proj", "*.mlp.c_fc",
                          "*.mlp.c_proj"};
      },
      VL * 3 * 2 * 2 * VW + (VL + TL) * (2 * (VW + VW) + 2 * (VW + 4 * VW) + 2 * (4 * VW + VW)));
  add(
      "coop_end", "coop", [](PeftConfig& c) { c.coop.n_ctx = 4; }, 4 * TW);
  add(
      "coop_middle", "coop",
      [](PeftConfig& c) {
        c.coop.n_ctx = 3;
        c.coop.class_token_position = "middle";
      },
      3 * TW);
  add(
      "coop_front", "coop",
      [](PeftConfig& c) {
        c.coop.n_ctx = 2;
        c.coop.class_token_position = "front";
      },
      2 * TW);
  add(
      "vpt_deep", "vpt", [](PeftConfig& c) { c.vpt.num_tokens = 5; }, VL * 5 * VW);
  add(
      "vpt_shallow", "vpt",
      [](PeftConfig& c) {
        c.vpt.num_tokens = 3;
        c.vpt.deep = false;
        c.vpt.dropout = 0.1;
      },
      3 * VW);
  // per block 2 adapters x (down w*b + b, up b*w + w)
  add(
      "houlsby", "houlsby", [](PeftConfig& c) { c.houlsby.bottleneck = 4; },
      VL * 2 * (2 * VW * 4 + 4 + VW) + TL * 2 * (2 * TW * 4 + 4 + TW));
  add(
      "houlsby_text_gelu", "houlsby",
      [](PeftConfig& c) {
        c.houlsby.bottleneck = 3;
        c.houlsby.activation = "gelu";
        c.houlsby.targets = {"transformer.resblocks.*"};
      },
      TL * 2 * (2 * TW * 3 + 3 + TW));
  add(
      "adaptformer", "adaptformer", [](PeftConfig& c) { c.adaptformer.bottleneck = 8; },
      VL * (2 * VW * 8 + 8 + VW) + TL * (2 * TW * 8 + 8 + TW));
  add("clip_adapter", "clip_adapter", none, 2 * (2 * E * (E / 4)));
  add(
      "clip_adapter_image", "clip_adapter",
      [](PeftConfig& c) {
        c.clip_adapter.reduction = 2;
        c.clip_adapter.towers = {"image"};
      },
      2 * E * (E / 2));
  // one adapter per tower: down w*b + b, up b*(w - s) + (w - s); shared up b*s + s
  add(
      "mrs_adapter", "mrs_adapter",
      [](PeftConfig& c) {
        c.mrs_adapter.bottleneck = 16;
        c.mrs_adapter.shared_dim = 16;
      },
      (VW * 16 + 16 + 16 * (VW - 16) + (VW - 16)) + (TW * 16 + 16 + 16 * (TW - 16) + (TW - 16)) + (16 * 16 + 16));
  // per block in_proj 3w + out w + ln_1 w + ln_2 w + c_fc 4w + c_proj w = 11w; ln_pre, ln_post, ln_final
  add("bitfit", "bitfit", none, VL * 11 * VW + 2 * VW + TL * 11 * TW + TW);
  add("linear_probe", "linear_probe", none, VW * E + TW * E);
  add("lock_image", "lock", none, TEXT + 1);  // LiT: text tower + logit_scale
  add(
      "lock_image_unlock2", "lock", [](PeftConfig& c) { c.lock.image_unlocked_groups = 2; },
      TEXT + 1 + VW * E + block_params(VW) + 2 * VW);
  add(
      "lock_both_text1", "lock",
      [](PeftConfig& c) {
        c.lock.text = true;
        c.lock.text_unlocked_layers = 1;
      },
      TW * E + 1);
  return out;
}

class PeftContract : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const auto& c = GetParam();
    fixture_ = std::make_unique<TinyFixture>(c.cfg);
  }
  std::unique_ptr<TinyFixture> fixture_;
};

TEST_P(PeftContract, ParameterCountAndNames) {
  const auto& c = GetParam();
  auto& model = *fixture_->model;
  const auto r = fixture_->report;
  std::printf("%s\n", r.table().c_str());
  EXPECT_EQ(r.total(), TOTAL + (find_method(c.cfg.method).prefix().empty() ? 0 : c.trainable));
  EXPECT_EQ(r.trainable(), c.trainable);
  const auto& method = find_method(c.cfg.method);
  std::set<std::string> base;
  for (const auto& p : fixture_->base_state) base.insert(p.key());
  for (const auto& p : model.named_parameters()) {
    const bool adapter = !base.count(p.key());
    EXPECT_EQ(adapter, has_prefix_component(p.key(), method.prefix())) << p.key();
    if (adapter) {
      EXPECT_TRUE(p.value().requires_grad()) << p.key();
    }
  }
}

TEST_P(PeftContract, IdentityAtInitOrNot) {
  const auto& c = GetParam();
  auto& f = *fixture_;
  f.model->eval();
  torch::NoGradGuard no_grad;
  const auto img = f.model->encode_image(f.pixels), txt = f.model->encode_text(f.tokens);
  if (find_method(c.cfg.method).identity_at_init()) {
    testing::expect_close("image vs base", img, f.base_image, 1e-6);
    testing::expect_close("text vs base", txt, f.base_text, 1e-6);
  } else {
    const bool image_differs = !torch::allclose(img, f.base_image), text_differs = !torch::allclose(txt, f.base_text);
    EXPECT_TRUE(image_differs || text_differs) << "a method that is not the identity at init changed nothing";
  }
}

TEST_P(PeftContract, OnlyMethodParametersChange) {
  auto& f = *fixture_;
  const auto names = method_parameter_names(*f.model, GetParam().cfg);
  const std::set<std::string> trained(names.begin(), names.end());
  StateDict before;
  for (const auto& p : f.model->named_parameters()) before.insert(p.key(), p.value().detach().clone());
  f.train_steps(3);
  int64_t changed = 0, frozen = 0;
  for (const auto& p : f.model->named_parameters()) {
    const bool same = torch::equal(p.value(), before[p.key()]);
    if (trained.count(p.key())) {
      EXPECT_FALSE(same) << p.key() << " is trained by the method but did not change";
      ++changed;
    } else {
      EXPECT_TRUE(same) << p.key() << " is frozen but changed";
      EXPECT_FALSE(p.value().grad().defined()) << p.key() << " is frozen but got a gradient";
      ++frozen;
    }
  }
  std::printf("%ld trained tensors changed, %ld frozen tensors bitwise unchanged\n", static_cast<long>(changed),
              static_cast<long>(frozen));
}

TEST_P(PeftContract, MergeEqualsUnmergedOrRefuses) {
  auto& f = *fixture_;
  const auto& method = find_method(GetParam().cfg.method);
  f.train_steps(2);
  f.model->eval();
  torch::NoGradGuard no_grad;
  const auto img = f.model->encode_image(f.pixels), txt = f.model->encode_text(f.tokens);
  if (!method.mergeable()) {
    EXPECT_THROW(merge(*f.model), Error);
    EXPECT_THROW(export_state_dict(*f.model), Error);
    return;
  }
  const auto exported = export_state_dict(*f.model);
  merge(*f.model);
  testing::expect_close("merged image", f.model->encode_image(f.pixels), img, 1e-5);
  testing::expect_close("merged text", f.model->encode_text(f.tokens), txt, 1e-5);
  unmerge(*f.model);
  testing::expect_close("unmerged image", f.model->encode_image(f.pixels), img, 1e-5);
  testing::expect_close("unmerged text", f.model->encode_text(f.tokens), txt, 1e-5);
  // The export is a plain open_clip state dict: it loads strictly into a fresh base model.
  for (const auto& item : exported) EXPECT_FALSE(is_adapter_parameter(item.key())) << item.key();
  CLIP plain(f.cfg);
  plain->eval();
  EXPECT_TRUE(load_state_dict(*plain, exported, /*strict=*/true, "export").clean());
  testing::expect_close("exported image", plain->encode_image(f.pixels), img, 1e-5);
  testing::expect_close("exported text", plain->encode_text(f.tokens), txt, 1e-5);
}

TEST_P(PeftContract, AdapterSaveLoadRoundTripsBitwise) {
  auto& f = *fixture_;
  f.train_steps(2);
  const auto dir = testing::scratch_dir();
  save_safetensors(dir / "base.safetensors", f.base_state);
  save_adapter(dir / "adapter.safetensors", *f.model, GetParam().cfg);

  CLIP loaded(f.cfg);
  load_state_dict(*loaded, load_safetensors(dir / "base.safetensors"), true, "base");
  const auto stored = apply_adapter_file(*loaded, dir / "adapter.safetensors");
  EXPECT_EQ(to_json(stored), to_json(GetParam().cfg));
  auto params = loaded->named_parameters();
  for (const auto& p : f.model->named_parameters()) {
    ASSERT_TRUE(params.contains(p.key())) << p.key();
    EXPECT_TRUE(torch::equal(params[p.key()], p.value())) << p.key();
    EXPECT_EQ(params[p.key()].requires_grad(), p.value().requires_grad()) << p.key();
  }
  f.model->eval();
  loaded->eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(loaded->encode_image(f.pixels), f.model->encode_image(f.pixels)));
  EXPECT_TRUE(torch::equal(loaded->encode_text(f.tokens), f.model->encode_text(f.tokens)));
}

TEST_P(PeftContract, Bf16AutocastForwardIsFinite) {
  auto& f = *fixture_;
  f.train_steps(1);
  f.model->eval();
  torch::NoGradGuard no_grad;
  const auto ref_img = f.model->encode_image(f.pixels), ref_txt = f.model->encode_text(f.tokens);
  AutocastScope autocast(c10::kCPU, c10::kBFloat16);
  const auto img = f.model->encode_image(f.pixels).to(torch::kFloat),
             txt = f.model->encode_text(f.tokens).to(torch::kFloat);
  EXPECT_TRUE(torch::isfinite(img).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(txt).all().item<bool>());
  testing::expect_close("bf16 image vs fp32", img, ref_img, 5e-2);
  testing::expect_close("bf16 text vs fp32", txt, ref_txt, 5e-2);
}

TEST_P(PeftContract, GradCheckpointingGivesSameGradients) {
  auto& f = *fixture_;
  f.train_steps(1);  // non-zero up-projections / LoRA B, so every adapter gets gradients
  auto grads = [&](bool checkpointing) {
    f.model->set_grad_checkpointing(checkpointing);
    f.model->zero_grad();
    torch::manual_seed(7);  // same dropout masks in both runs
    f.loss().backward();
    StateDict g;
    for (const auto& p : f.model->named_parameters()) {
      if (p.value().grad().defined()) g.insert(p.key(), p.value().grad().clone());
    }
    return g;
  };
  const auto plain = grads(false), recomputed = grads(true);
  ASSERT_EQ(plain.size(), recomputed.size());
  ASSERT_GT(plain.size(), 0u);
  double worst = 0;
  for (const auto& item : plain) {
    ASSERT_TRUE(recomputed.contains(item.key())) << item.key();
    const auto d = testing::compare(recomputed[item.key()], item.value());
    worst = std::max(worst, d.max_rel);
    EXPECT_LE(d.max_abs, 1e-5 * std::max(d.max_ref, 1e-3)) << item.key();
  }
  std::printf("%zu gradients, worst relative difference %.3e\n", plain.size(), worst);
}

INSTANTIATE_TEST_SUITE_P(Methods, PeftContract, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.label; });

// Every registered method is covered by the suite above.
TEST(PeftRegistry, EveryMethodHasAContractCase) {
  std::set<std::string> covered;
  for (const auto& c : cases()) covered.insert(c.cfg.method);
  for (const auto& name : method_names()) EXPECT_TRUE(covered.count(name)) << name << " has no contract case";
}

}  // namespace
}  // namespace rsclip::models::peft
