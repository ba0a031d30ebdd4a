#include "models/model_config.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "models/clip.h"

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
