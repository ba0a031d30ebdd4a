#include "models/clip/model_config.h"

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "models/clip/clip.h"
#include "models/clip/flops.h"

namespace rsclip::models {
namespace {

TEST(ModelConfig, BuiltinsParseAndBuild) {
  for (const auto& name : {"ViT-B-32", "ViT-B-32-quickgelu", "ViT-B-16", "ViT-L-14", "ViT-H-14", "ViT-g-14",
                           "ViT-bigG-14", "ViT-tiny-test"}) {
    EXPECT_NO_THROW(load_model_config(name)) << name;
  }
  auto h = load_model_config("ViT-H/14");  // open_clip accepts the slash form
  EXPECT_EQ(h.vision.heads(), 16);
  EXPECT_EQ(h.vision.width, 1280);
  EXPECT_EQ(h.text.layers, 24);
  auto g = load_model_config("ViT-g-14");
  EXPECT_EQ(g.vision.mlp_width(), 6144);  // int(1408 * 4.3637)
  EXPECT_TRUE(load_model_config("ViT-B-32-quickgelu").quick_gelu);
}

TEST(ModelConfig, ParameterCountsOfViTB32) {
  CLIP model(load_model_config("ViT-B-32"));
  auto counts = count_parameters(*model);
  // open_clip ViT-B-32: 87,849,216 image + 63,428,096 text + logit_scale = 151,277,313
  // (text: 49408*512 + 77*512 + 12 * 3,152,384 + 1,024 + 512*512).
  EXPECT_EQ(counts.visual, 87849216);
  EXPECT_EQ(counts.text, 63428096);
  EXPECT_EQ(counts.total, 151277313);
}

TEST(ModelConfig, ClosedFormCountsEqualBuiltModels) {
  for (const auto& name : {"ViT-B-32", "ViT-tiny-test"}) {
    auto cfg = load_model_config(name);
    CLIP model(cfg);
    const auto built = count_parameters(*model);
    const auto formula = count_config_parameters(cfg);
    EXPECT_EQ(formula.visual, built.visual) << name;
    EXPECT_EQ(formula.text, built.text) << name;
    EXPECT_EQ(formula.total, built.total) << name;
  }
  // Layer scale, proj_bias, SigLIP logit_bias and no_ln_pre change the count.
  auto json = nlohmann::json::parse(R"({"embed_dim": 8, "init_logit_bias": -10, "vision_cfg": {"image_size": 16,
      "layers": 2, "width": 16, "patch_size": 8, "head_width": 8, "ls_init_value": 0.1, "no_ln_pre": true},
      "text_cfg": {"width": 16, "heads": 2, "layers": 1, "vocab_size": 100, "context_length": 7, "proj_bias": true}})");
  auto cfg = parse_model_config(json, "odd");
  CLIP model(cfg);
  EXPECT_EQ(count_config_parameters(cfg).total, count_parameters(*model).total);
}

TEST(ModelConfig, FlopsOfViTB32) {
  // image: 2 * (49*3*1024*768 + 12*(50*768*2304 + 2*50*50*768 + 50*768*768 + 2*50*768*3072) + 768*512)
  const auto f = count_flops(load_model_config("ViT-B-32"));
  EXPECT_DOUBLE_EQ(f.image,
                   2.0 * (49.0 * 3 * 1024 * 768 +
                          12.0 * (50.0 * 768 * 2304 + 2.0 * 50 * 50 * 768 + 50.0 * 768 * 768 + 2.0 * 50 * 768 * 3072) +
                          768.0 * 512));
  // open_clip's model profile table lists 4.41 image / 2.96 text "GFLOPs" for ViT-B-32, in
  // fvcore's convention of one FLOP per multiply-accumulate: our FLOPs are twice that.
  EXPECT_NEAR(f.image / 2e9, 4.41, 0.01);
  EXPECT_NEAR(f.text / 2e9, 2.98, 0.01);
}

// open_clip's MODEL-quickgelu names: every built-in model has its QuickGELU variant.
TEST(ModelConfig, QuickGeluVariantOfEveryBuiltin) {
  const auto h = load_model_config("ViT-H-14-quickgelu");
  EXPECT_TRUE(h.quick_gelu);
  EXPECT_FALSE(load_model_config("ViT-H-14").quick_gelu);
  EXPECT_EQ(h.vision.width, load_model_config("ViT-H-14").vision.width);
  EXPECT_TRUE(load_model_config("ViT-B-32-quickgelu").quick_gelu);  // shipped as its own config
  EXPECT_THROW(load_model_config("ViT-Q-99-quickgelu"), Error);
}

TEST(ModelConfig, UnsupportedAndUnknownKeysAreErrors) {
  auto base = nlohmann::json::parse(R"({"embed_dim": 8, "vision_cfg": {"image_size": 16, "layers": 1, "width": 16,
      "patch_size": 8, "head_width": 8}, "text_cfg": {"width": 16, "heads": 2, "layers": 1}})");
  EXPECT_NO_THROW(parse_model_config(base, "t"));
  auto timm = base;
  timm["vision_cfg"]["timm_model_name"] = "vit_base";
  EXPECT_THROW(parse_model_config(timm, "t"), Error);
  auto typo = base;
  typo["text_cfg"]["layrs"] = 2;
  try {
    parse_model_config(typo, "t");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'layers'"), std::string::npos) << e.what();
  }
  auto bad = base;
  bad["vision_cfg"]["head_width"] = 5;
  EXPECT_THROW(parse_model_config(bad, "t"), Error);
  EXPECT_THROW(load_model_config("ViT-Z-99"), Error);
}

}  // namespace
}  // namespace rsclip::models
