// The loss expression, the registry, the `loss:` config section and the losses'
// hand-checkable properties (no Python needed).
#include <cmath>

#include <gtest/gtest.h>

#include "core/base/config.h"
#include "train/losses/losses.h"

namespace rsclip::train {
namespace {

TEST(LossExpression, ParsesWeightsOnEitherSide) {
  auto terms = parse_loss_expression("clip + 0.5*hmmc");
  ASSERT_EQ(terms.size(), 2u);
  EXPECT_EQ(terms[0].name, "clip");
  EXPECT_EQ(terms[0].weight, 1.0);
  EXPECT_EQ(terms[1].name, "hmmc");
  EXPECT_EQ(terms[1].weight, 0.5);
  terms = parse_loss_expression("  hmmc*2 +siglip ");
  ASSERT_EQ(terms.size(), 2u);
  EXPECT_EQ(terms[0].weight, 2.0);
  EXPECT_EQ(terms[1].name, "siglip");
  EXPECT_EQ(parse_loss_expression("1e-1 * clip")[0].weight, 0.1);
}

TEST(LossExpression, RejectsMalformedExpressions) {
  for (const char* bad :
       {"", "clip +", "0.5 clip", "clip * ", "clip + clip", "clip - hmmc", "0*clip", "3clip", "clip hmmc", "-1*clip"}) {
    EXPECT_THROW(parse_loss_expression(bad), Error) << "'" << bad << "'";
  }
  try {
    parse_loss_expression("clip + + hmmc");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("column 8"), std::string::npos) << e.what();
  }
}

TEST(LossRegistry, BuiltinsAndDidYouMean) {
  const auto names = registered_losses();
  for (const char* n : {"clip", "hmmc", "siglip"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  LossConfig cfg;
  cfg.name = "clpi";
  try {
    build_loss(cfg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'clip'"), std::string::npos) << e.what();
  }
}

class ScaledL2 : public Loss {
 public:
  torch::Tensor forward(const LossInputs& in) override { return (in.image_features - in.text_features).pow(2).sum(); }
};

TEST(LossRegistry, PluginsRegisterAndCombine) {
  register_loss("test_l2", [](const LossConfig&, const LossCollectives&) { return std::make_unique<ScaledL2>(); });
  EXPECT_ANY_THROW(
      register_loss("test_l2", [](const LossConfig&, const LossCollectives&) { return std::make_unique<ScaledL2>(); }));
  LossConfig cfg;
  cfg.name = "clip + 3*test_l2";
  auto img =
      torch::nn::functional::normalize(torch::randn({4, 8}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  auto txt =
      torch::nn::functional::normalize(torch::randn({4, 8}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  LossInputs in{img, txt, torch::tensor(10.0)};
  auto loss = build_loss(cfg);
  EXPECT_FALSE(loss.needs_augmented_features());
  auto out = loss(in);
  const auto expected = build_loss(LossConfig{})(in).total + 3 * (img - txt).pow(2).sum();
  EXPECT_TRUE(torch::allclose(out.total, expected));
}

TEST(LossConfigSection, ReadsAndValidates) {
  auto cfg =
      config::read<LossConfig>(YAML::Load("name: clip + 0.5*hmmc\nhmmc: {margin: 0.3}\nclip: {local_loss: true}\n"));
  EXPECT_EQ(cfg.hmmc.margin, 0.3);
  EXPECT_TRUE(cfg.clip.local_loss);
  EXPECT_THROW(config::read<LossConfig>(YAML::Load("name: clip +\n")), Error);
  EXPECT_THROW(config::read<LossConfig>(YAML::Load("siglip: {dist_impl: ring}\n")), Error);
  EXPECT_THROW(config::read<LossConfig>(YAML::Load("hmmc: {token_dropout: 1.0}\n")), Error);
  EXPECT_THROW(config::read<LossConfig>(YAML::Load("hmmc: {margn: 0.1}\n")), Error);
}

TEST(ClipLoss, PerfectlyAlignedBatchHasSmallLossAndSymmetricLogits) {
  auto eye = torch::eye(6);
  ClipLoss loss({}, {});
  auto [per_image, per_text] = loss.logits({eye, eye, torch::tensor(100.0)});
  EXPECT_TRUE(torch::equal(per_image, per_text.t()));
  // CE with logit 100 on the target and 0 elsewhere: log(1 + 5 e^-100).
  EXPECT_NEAR(loss.forward({eye, eye, torch::tensor(100.0)}).item<double>(), 5 * std::exp(-100.0), 1e-30);
}

TEST(ClipLoss, CachedLabelsFollowTheBatchSize) {
  namespace F = torch::nn::functional;
  ClipLossConfig cached, uncached;
  uncached.cache_labels = false;
  ClipLoss a(cached, {}), b(uncached, {});
  for (int64_t n : {4, 6, 6, 3}) {
    auto img = F::normalize(torch::randn({n, 8}), F::NormalizeFuncOptions().dim(-1));
    auto txt = F::normalize(torch::randn({n, 8}), F::NormalizeFuncOptions().dim(-1));
    EXPECT_TRUE(torch::equal(a.forward({img, txt, torch::tensor(20.0)}), b.forward({img, txt, torch::tensor(20.0)})));
  }
}

TEST(ClipLoss, DistributedNeedsAGather) {
  LossCollectives c;
  c.world_size = 2;
  EXPECT_ANY_THROW(ClipLoss({}, c));
  EXPECT_ANY_THROW(SigLipLoss({}, c));
}

TEST(Hmmc, HandComputedValues) {
  // Orthonormal rows: s = I. Each row and column: max over negatives of [m + 0 - 1]_+.
  auto eye = torch::eye(5);
  EXPECT_EQ(hardest_negative_hinge(eye, eye, 0.2).item<double>(), 0.0);
  EXPECT_NEAR(hardest_negative_hinge(eye, eye, 1.5).item<double>(), 5 * 0.5 * 2, 1e-6);
  // Two pairs, a = b, at 60 degrees: s = [[1, .5], [.5, 1]] -> each of 4 hinges m + .5 - 1.
  auto a = torch::tensor({{1.0, 0.0}, {0.5, std::sqrt(3.0) / 2}}, torch::kDouble);
  EXPECT_NEAR(hardest_negative_hinge(a, a, 0.7).item<double>(), 4 * 0.2, 1e-12);
  EXPECT_EQ(hardest_negative_hinge(a * 3, a, 0.4).item<double>(), 0.0);  // cosine: scale-free
  // A batch of one has no negatives.
  EXPECT_EQ(hardest_negative_hinge(torch::ones({1, 4}), torch::ones({1, 4}), 0.2).item<double>(), 0.0);
}

TEST(Hmmc, TiedHardestNegativesSendTheGradientToTheFirst) {
  // a = I. b_1 == b_2 are equally hard negatives of a_0 (row 0), and a_1, a_2 equally hard
  // negatives of b_0 (column 0). The first of each tie takes the hinge: the loss must have
  // the gradient of the sum written out below with those choices.
  namespace F = torch::nn::functional;
  auto a = torch::eye(3, torch::kDouble).requires_grad_(true);
  auto b = torch::tensor({{0.0, 1.0, 1.0}, {1.0, 0.2, 0.0}, {1.0, 0.2, 0.0}}, torch::kDouble).requires_grad_(true);
  const double m = 0.2;
  hardest_negative_hinge(a, b, m).backward();

  auto a2 = a.detach().clone().requires_grad_(true), b2 = b.detach().clone().requires_grad_(true);
  auto s = at::matmul(F::normalize(a2, F::NormalizeFuncOptions().dim(-1)),
                      F::normalize(b2, F::NormalizeFuncOptions().dim(-1)).t());
  ASSERT_EQ(s[0][1].item<double>(), s[0][2].item<double>());
  ASSERT_EQ(s[1][0].item<double>(), s[2][0].item<double>());
  auto row = [&](int i, int j) { return (m + s[i][j] - s[i][i]).clamp_min(0); };
  auto col = [&](int j, int i) { return (m + s[i][j] - s[j][j]).clamp_min(0); };
  auto expected = row(0, 1) + row(1, 0) + row(2, 0) + col(0, 1) + col(1, 0) + col(2, 0);
  expected.backward();
  EXPECT_TRUE(torch::allclose(a.grad(), a2.grad(), 1e-12, 1e-12)) << a.grad() << a2.grad();
  EXPECT_TRUE(torch::allclose(b.grad(), b2.grad(), 1e-12, 1e-12)) << b.grad() << b2.grad();
  EXPECT_THROW(hardest_negative_hinge(a, b.narrow(0, 0, 2), m), c10::Error);
}

}  // namespace
}  // namespace rsclip::train
