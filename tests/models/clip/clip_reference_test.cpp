// Tower parity: rsclip's CLIP vs open_clip on random weights (scripts/reference/
// make_clip_reference.py), fp32 on CPU within 1e-5 relative (max |diff| / max |ref|), and
// under CPU bf16 autocast against open_clip under the same autocast.
#include <gtest/gtest.h>

#include "core/base/autocast.h"
#include "core/io/safetensors.h"
#include "models/clip/clip.h"
#include "models/clip/load_state.h"
#include "tests/reference/test_support.h"

namespace rsclip::models {
namespace {

struct Case {
  const char* model;
  int layers;  // 0 = the config's depth; else both towers cut to this many blocks
};

class ClipReference : public ::testing::TestWithParam<Case> {};

TEST_P(ClipReference, MatchesOpenClip) {
  const auto& c = GetParam();
  const auto dir = testing::scratch_dir();
  testing::run_python(
      "scripts/reference/make_clip_reference.py",
      {"--config", (testing::source_dir() / "configs/models" / (std::string(c.model) + ".json")).string(), "--out",
       dir.string(), "--layers", std::to_string(c.layers)});
  auto cfg = load_model_config((dir / "config.json").string());
  CLIP model(cfg);
  model->eval();
  auto report =
      load_state_dict(*model, load_safetensors(dir / "model.safetensors"), /*strict=*/true, "model.safetensors");
  EXPECT_TRUE(report.clean());
  auto io = load_safetensors(dir / "io.safetensors");

  torch::NoGradGuard no_grad;
  std::printf("%s (%s):\n", c.model,
              c.layers ? ("reduced to " + std::to_string(c.layers) + " blocks").c_str() : "full depth");
  testing::expect_close("encode_image fp32", model->encode_image(io["pixels"]), io["image_features"], 1e-5);
  testing::expect_close("encode_text fp32", model->encode_text(io["tokens"]), io["text_features"], 1e-5);
  {
    AutocastScope autocast(c10::kCPU, c10::kBFloat16);
    testing::expect_close("encode_image bf16 autocast", model->encode_image(io["pixels"]).to(torch::kFloat),
                          io["image_features_bf16"], 2e-2);
    testing::expect_close("encode_text bf16 autocast", model->encode_text(io["tokens"]).to(torch::kFloat),
                          io["text_features_bf16"], 2e-2);
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, ClipReference,
                         ::testing::Values(Case{"ViT-tiny-test", 0}, Case{"ViT-B-32", 0}, Case{"ViT-B-32-quickgelu", 0},
                                           Case{"ViT-B-16", 0}, Case{"ViT-L-14", 0}, Case{"ViT-H-14", 2},
                                           Case{"ViT-g-14", 2}, Case{"ViT-bigG-14", 2}),
                         [](const auto& info) {
                           std::string n = info.param.model;
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace rsclip::models
