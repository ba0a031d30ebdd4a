#include "train/eval/eval_metrics.h"

#include <gtest/gtest.h>

#include "core/io/safetensors.h"
#include "tests/reference/test_support.h"

namespace rsclip::train {
namespace {

// The reference averages in float32; one query decided differently moves a recall by >= 1.6.
constexpr double kTol = 1e-4;

// Features quantised to {-1, 0, 1} so that many scores tie exactly.
torch::Tensor coarse(std::vector<int64_t> shape) { return torch::randint(-1, 2, shape).to(torch::kFloat); }

TEST(EvalMetrics, EqualPythonReferenceIncludingTies) {
  const auto dir = testing::scratch_dir();
  for (int trial = 0; trial < 3; ++trial) {
    torch::manual_seed(trial);
    const int64_t images = 40, per_image = 5, classes = 7, embed = trial == 2 ? 16 : 4;  // tiny embed: many ties
    auto image = coarse({images, embed});
    image.index_put_({0}, torch::ones({embed}));  // avoid all-zero rows (normalize keeps them 0: fine, but rare)
    auto text = coarse({images * per_image, embed});
    std::vector<int64_t> caption_image;
    for (int64_t i = 0; i < images; ++i) {
      for (int64_t c = 0; c < per_image; ++c) caption_image.push_back((i * 7 + c * 3) % images);  // shuffled groups
    }
    auto templates = torch::randn({classes, 6, embed}) * 3;
    auto zs_image = coarse({60, embed});
    auto zs_labels = torch::randint(0, classes, {60}, torch::kLong);
    StateDict in;
    in.insert("image", image);
    in.insert("text", text);
    in.insert("caption_image", torch::tensor(caption_image));
    in.insert("templates", templates);
    in.insert("zs_image", zs_image);
    in.insert("zs_labels", zs_labels);
    save_safetensors(dir / "in.safetensors", in);
    testing::run_python("scripts/reference/eval_metrics_reference.py",
                        {(dir / "in.safetensors").string(), (dir / "out.safetensors").string()});
    auto ref = load_safetensors(dir / "out.safetensors");

    auto r = retrieval_metrics(image, text, caption_image);
    EXPECT_NEAR(r.i2t_r1, ref["i2t_r1"].item<double>(), kTol);
    EXPECT_NEAR(r.i2t_r5, ref["i2t_r5"].item<double>(), kTol);
    EXPECT_NEAR(r.i2t_r10, ref["i2t_r10"].item<double>(), kTol);
    EXPECT_NEAR(r.t2i_r1, ref["t2i_r1"].item<double>(), kTol);
    EXPECT_NEAR(r.t2i_r5, ref["t2i_r5"].item<double>(), kTol);
    EXPECT_NEAR(r.t2i_r10, ref["t2i_r10"].item<double>(), kTol);
    EXPECT_NEAR(r.mean_recall, ref["mean_recall"].item<double>(), kTol);

    std::vector<torch::Tensor> per_class;
    for (int64_t c = 0; c < classes; ++c) per_class.push_back(templates[c]);
    testing::expect_close("classifier georsclip", build_classifier(per_class, Ensemble::georsclip),
                          ref["classifier_georsclip"], 1e-6);
    auto classifier = build_classifier(per_class, Ensemble::open_clip);
    testing::expect_close("classifier open_clip", classifier, ref["classifier_open_clip"], 1e-6);
    auto z = zeroshot_metrics(zs_image, ref["classifier_open_clip"], zs_labels);
    EXPECT_NEAR(z.top1, ref["top1"].item<double>(), kTol);
    EXPECT_NEAR(z.top5, ref["top5"].item<double>(), kTol);
  }
}

TEST(EvalMetrics, PerfectAndHandCheckedCases) {
  // Identity embeddings: every query ranks its match first.
  auto eye = torch::eye(12);
  std::vector<int64_t> idx(12);
  for (int i = 0; i < 12; ++i) idx[i] = i;
  auto r = retrieval_metrics(eye, eye, idx);
  EXPECT_DOUBLE_EQ(r.i2t_r1, 100.0);
  EXPECT_DOUBLE_EQ(r.t2i_r1, 100.0);
  EXPECT_DOUBLE_EQ(r.mean_recall, 100.0);
  // All scores tied: the lower index wins, so only image 0 / caption 0 hit at 1.
  auto same = torch::ones({4, 3});
  auto t = retrieval_metrics(same, same, {0, 1, 2, 3});
  EXPECT_DOUBLE_EQ(t.t2i_r1, 25.0);
  EXPECT_DOUBLE_EQ(t.i2t_r1, 25.0);
  EXPECT_DOUBLE_EQ(t.t2i_r5, 100.0);
  // Zero-shot per-class accuracy and its mean.
  auto classifier = torch::eye(3);
  auto images = torch::tensor({{1.f, 0.f, 0.f}, {0.f, 1.f, 0.f}, {0.f, 0.f, 1.f}, {1.f, 0.f, 0.f}});
  auto z = zeroshot_metrics(images, classifier, torch::tensor({0, 1, 2, 2}, torch::kLong));
  EXPECT_DOUBLE_EQ(z.top1, 75.0);
  EXPECT_EQ(z.per_class, (std::vector<double>{100.0, 100.0, 50.0}));
  EXPECT_NEAR(z.mean_per_class, 250.0 / 3.0, 1e-12);
}

}  // namespace
}  // namespace rsclip::train
