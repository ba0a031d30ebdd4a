// PEFT against open_clip (scripts/reference/peft_reference.py):
//   - a trained LoRA (every target kind: q/k/v slices of the packed in_proj, out_proj, c_fc,
//     c_proj, both towers) exported by export_state_dict() loads into open_clip's CLIP with
//     strict=True and gives rsclip's unmerged LoRA outputs within 1e-5;
//   - the `lock` method trains exactly the tensors open_clip's lock_image_tower /
//     lock_text_tower leave trainable, for every unlocked-group count.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "models/peft/adapter_io.h"
#include "models/peft/peft.h"
#include "tests/models/peft/peft_test_support.h"
#include "tests/reference/test_support.h"

namespace rsclip::models::peft {
namespace {

std::filesystem::path tiny_config() { return testing::source_dir() / "configs/models/ViT-tiny-test.json"; }

TEST(PeftReference, LoraMergedExportLoadsStrictlyIntoOpenClip) {
  PeftConfig cfg;
  cfg.method = "lora";
  cfg.lora.rank = 4;
  cfg.lora.alpha = 8;
  cfg.lora.qkv = "qkv";
  cfg.lora.targets = {"*.attn.in_proj", "*.attn.out_proj", "*.mlp.c_fc", "*.mlp.c_proj"};
  TinyFixture f(cfg);
  f.train_steps(3);
  f.model->eval();
  torch::Tensor image, text;
  {
    torch::NoGradGuard no_grad;
    image = f.model->encode_image(f.pixels);
    text = f.model->encode_text(f.tokens);
  }
  // The adapter really moved the model away from the base.
  EXPECT_GT(testing::compare(image, f.base_image).max_rel, 1e-3);

  const auto dir = testing::scratch_dir();
  std::filesystem::copy_file(tiny_config(), dir / "config.json");
  const auto merged = export_state_dict(*f.model);
  save_safetensors(dir / "merged.safetensors", merged);
  StateDict io;
  io.insert("pixels", f.pixels);
  io.insert("tokens", f.tokens);
  save_safetensors(dir / "io.safetensors", io);
  std::printf(
      "%s", testing::run_python("scripts/reference/peft_reference.py", {"lora-export", "--dir", dir.string()}).c_str());
  auto theirs = load_safetensors(dir / "open_clip_features.safetensors");
  testing::expect_close("open_clip(merged) image vs rsclip LoRA", theirs["image_features"], image, 1e-5);
  testing::expect_close("open_clip(merged) text vs rsclip LoRA", theirs["text_features"], text, 1e-5);
}

TEST(PeftReference, LockMatchesOpenClipLockTowers) {
  // ViT-tiny-test has 2 blocks per tower: image groups = embeddings, block 0, block 1 +
  // ln_post, proj (4); text likewise with ln_final and text_projection (4). 5 > 4 unlocks all.
  struct Setting {
    std::optional<int64_t> image, text;
  };
  const std::vector<Setting> settings{{0, {}}, {1, {}}, {2, {}}, {3, {}}, {5, {}}, {{}, 0},
                                      {{}, 1}, {{}, 2}, {{}, 4}, {{}, 9}, {0, 0},  {2, 3}};
  nlohmann::json spec = nlohmann::json::array();
  for (const auto& s : settings) {
    spec.push_back(
        {s.image ? nlohmann::json(*s.image) : nlohmann::json(), s.text ? nlohmann::json(*s.text) : nlohmann::json()});
  }
  const auto out = testing::scratch_dir() / "names.json";
  testing::run_python("scripts/reference/peft_reference.py", {"lock-names", "--config", tiny_config().string(), "--out",
                                                              out.string(), "--settings", spec.dump()});
  std::ifstream in(out);
  const auto all_theirs = nlohmann::json::parse(in).get<std::vector<std::vector<std::string>>>();
  ASSERT_EQ(all_theirs.size(), settings.size());
  for (std::size_t i = 0; i < settings.size(); ++i) {
    const auto& s = settings[i];
    PeftConfig cfg;
    cfg.method = "lock";
    cfg.lock.image = s.image.has_value();
    cfg.lock.image_unlocked_groups = s.image.value_or(0);
    cfg.lock.text = s.text.has_value();
    cfg.lock.text_unlocked_layers = s.text.value_or(0);
    TinyFixture f(cfg);
    std::vector<std::string> ours;
    for (const auto& p : f.model->named_parameters()) {
      if (p.value().requires_grad()) ours.push_back(p.key());
    }
    const auto& theirs = all_theirs[i];
    std::printf("lock image=%s text=%s: %zu trainable tensors (open_clip %zu)\n",
                s.image ? std::to_string(*s.image).c_str() : "-", s.text ? std::to_string(*s.text).c_str() : "-",
                ours.size(), theirs.size());
    EXPECT_EQ(ours, theirs);
  }
}

}  // namespace
}  // namespace rsclip::models::peft
