// PEFT on ViT-B-32, the PETL paper's backbone (docs/reference.md): MRS-Adapter has exactly
// 161,088 trainable parameters (the paper's "0.16M") split image 94,976 / text 61,952 /
// shared 4,160, and is the identity at init; every method's default count equals its closed
// form. Prints the table (method, trainable, % of total) beside the PETL paper's figures.
#include <gtest/gtest.h>

#include "models/peft/peft.h"
#include "tests/reference/test_support.h"

namespace rsclip::models::peft {
namespace vit_b32 {  // named: the folder's tests share one unity translation unit

// ViT-B-32: embed 512; image width 768, 12 blocks, 50 tokens; text width 512, 12 blocks.
constexpr int64_t E = 512, VW = 768, VL = 12, TW = 512, TL = 12;
constexpr int64_t IMAGE = 87'849'216, TEXT = 63'428'096, TOTAL = IMAGE + TEXT + 1;  // + logit_scale

struct Row {
  std::string label, petl;  // the PETL paper's count for the method, where it has one
  PeftConfig cfg;
  int64_t trainable;
};

PeftConfig method(const std::string& name) {
  PeftConfig c;
  c.method = name;
  return c;
}

std::vector<Row> rows() {
  auto adaptformer5 = method("adaptformer");
  adaptformer5.adaptformer.bottleneck = 5;
  auto clip_adapter2 = method("clip_adapter");
  clip_adapter2.clip_adapter.reduction = 2;
  // Bottleneck adapters: per adapter down w*b + b, up b*w + w.
  auto adapters = [](int64_t per_block, int64_t b) {
    return per_block * (VL * (2 * VW * b + b + VW) + TL * (2 * TW * b + b + TW));
  };
  return {
      {"full", "151M", method("full"), TOTAL},
      {"bitfit", "", method("bitfit"), VL * 11 * VW + 2 * VW + TL * 11 * TW + TW},  // 11w per block + LNs
      {"linear_probe", "1.05M", method("linear_probe"), VW * E + TW * E},
      {"lock (LiT)", "", method("lock"), TEXT + 1},
      {"lora r8 q,v", "", method("lora"), VL * 2 * 2 * 8 * VW + TL * 2 * 2 * 8 * TW},
      {"coop n_ctx 16", "0.10M", method("coop"), 16 * TW},
      {"vpt deep 50", "0.46M", method("vpt"), VL * 50 * VW},
      {"houlsby b8", "0.17M", method("houlsby"), adapters(2, 8)},
      {"adaptformer b64", "", method("adaptformer"), adapters(1, 64)},
      {"adaptformer b5", "0.17M", adaptformer5, adapters(1, 5)},
      {"clip_adapter r4", "", method("clip_adapter"), 2 * (2 * E * (E / 4))},
      {"clip_adapter r2", "0.52M", clip_adapter2, 2 * (2 * E * (E / 2))},
      {"mrs_adapter", "0.16M", method("mrs_adapter"), 161'088},
  };
}

TEST(PeftViTB32, MrsAdapterHas161088ParametersAndStartsAsTheBase) {
  torch::set_num_threads(1);
  torch::manual_seed(0);
  CLIP model(load_model_config("ViT-B-32"));
  model->eval();
  const auto pixels = torch::randn({2, 3, 224, 224});
  auto tokens = torch::randint(1, 49406, {2, 77}, torch::kLong);
  tokens.select(1, 0).fill_(49406);
  tokens.select(1, 9).fill_(49407);
  torch::NoGradGuard no_grad;
  const auto image = model->encode_image(pixels), text = model->encode_text(tokens);
  const auto r = apply_method(*model, method("mrs_adapter"));
  EXPECT_EQ(r.trainable(), 161'088);
  EXPECT_EQ(r.image.trainable, 768 * 64 + 64 + 64 * 704 + 704);
  EXPECT_EQ(r.text.trainable, 512 * 64 + 64 + 64 * 448 + 448);
  EXPECT_EQ(r.shared.trainable, 64 * 64 + 64);
  EXPECT_TRUE(torch::equal(model->encode_image(pixels), image));
  EXPECT_TRUE(torch::equal(model->encode_text(tokens), text));
}

TEST(PeftViTB32, EveryMethodCountEqualsItsClosedForm) {
  torch::set_num_threads(1);
  std::printf("ViT-B-32, total %ld parameters\n  %-18s %12s %9s  %s\n", static_cast<long>(TOTAL), "method", "trainable",
              "% total", "PETL paper");
  CLIP shared{nullptr};  // methods adding no modules can be re-applied to one model
  for (const auto& row : rows()) {
    const bool adds_modules = !find_method(row.cfg.method).prefix().empty();
    CLIP fresh{nullptr};
    if (adds_modules || !shared) {
      torch::manual_seed(0);
      (adds_modules ? fresh : shared) = CLIP(load_model_config("ViT-B-32"));
    }
    auto& model = adds_modules ? fresh : shared;
    const auto r = apply_method(*model, row.cfg);
    EXPECT_EQ(r.trainable(), row.trainable) << row.label;
    EXPECT_EQ(r.total(), TOTAL + (adds_modules ? row.trainable : 0)) << row.label;
    std::printf("  %-18s %12ld %8.3f%%  %s\n", row.label.c_str(), static_cast<long>(r.trainable()),
                100.0 * static_cast<double>(r.trainable()) / static_cast<double>(r.total()), row.petl.c_str());
  }
}

}  // namespace vit_b32
}  // namespace rsclip::models::peft
