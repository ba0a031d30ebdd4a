// ClipLoss / SigLipLoss vs open_clip (one rank, and four gloo ranks simulated in one
// process), HMMC vs tests/reference/hmmc_reference.py: values and gradients.
#include "train/losses/losses.h"

#include <gtest/gtest.h>

#include "core/io/safetensors.h"
#include "tests/reference/reference_cache.h"
#include "tests/reference/test_support.h"

namespace rsclip::train {
namespace {

using rsclip::testing::expect_close;

constexpr double kTol = 1e-6;

StateDict dump(const std::string& what) {
  if (what == "hmmc") {
    return load_safetensors(
        rsclip::testing::cached_reference({"tests/reference/hmmc_reference.py"}, {}, ".safetensors"));
  }
  return load_safetensors(
      rsclip::testing::cached_reference({"scripts/reference/optim_reference.py"}, {what}, ".safetensors"));
}

torch::Tensor leaf(const torch::Tensor& t) { return t.detach().clone().requires_grad_(true); }

TEST(ClipLossReference, SingleRankValueAndGradients) {
  auto ref = dump("losses");
  for (const std::string name : {"clip", "clip_bias"}) {
    auto image = leaf(ref["image"]), text = leaf(ref["text"]), raw = leaf(ref["raw_scale"]), bias = leaf(ref["bias"]);
    LossInputs in{image, text, raw.exp()};
    if (name == "clip_bias") in.logit_bias = bias;
    auto loss = build_loss(LossConfig{})(in).total;
    loss.backward();
    expect_close(name + ".loss", loss, ref[name + ".loss"], kTol);
    expect_close(name + ".grad_image", image.grad(), ref[name + ".grad_image"], kTol);
    expect_close(name + ".grad_text", text.grad(), ref[name + ".grad_text"], kTol);
    expect_close(name + ".grad_raw_scale", raw.grad(), ref[name + ".grad_raw_scale"], kTol);
    if (name == "clip_bias") expect_close(name + ".grad_bias", bias.grad(), ref[name + ".grad_bias"], kTol);
  }
}

TEST(SigLipLossReference, SingleRankValueAndGradients) {
  auto ref = dump("losses");
  auto image = leaf(ref["image"]), text = leaf(ref["text"]), raw = leaf(ref["siglip_raw_scale"]),
       bias = leaf(ref["bias"]);
  LossConfig cfg;
  cfg.name = "siglip";
  auto loss = build_loss(cfg)({image, text, raw.exp(), bias}).total;
  loss.backward();
  expect_close("siglip.loss", loss, ref["siglip.loss"], kTol);
  expect_close("siglip.grad_image", image.grad(), ref["siglip.grad_image"], kTol);
  expect_close("siglip.grad_text", text.grad(), ref["siglip.grad_text"], kTol);
  expect_close("siglip.grad_raw_scale", raw.grad(), ref["siglip.grad_raw_scale"], kTol);
  expect_close("siglip.grad_bias", bias.grad(), ref["siglip.grad_bias"], kTol);
}

// Several ranks in one process. Rank r's features are leaves of one graph; the simulated
// collectives return the other ranks' actual tensors, so backpropagating the sum of every
// rank's loss gives each shard what the real collectives' backward gives its rank (the
// reduce-scatter of all_gather, the return trip of a neighbour exchange). Detached copies
// where open_clip gathers without grad.
struct SimulatedRanks {
  std::vector<torch::Tensor> image, text;  // per rank

  int index_of(const std::vector<torch::Tensor>& v, const torch::Tensor& t) const {
    for (std::size_t k = 0; k < v.size(); ++k) {
      if (v[k].is_same(t)) return static_cast<int>(k);
    }
    ADD_FAILURE() << "collective called with a tensor no rank owns";
    return 0;
  }
  const std::vector<torch::Tensor>& kind_of(const torch::Tensor& t) const {
    for (const auto& x : image) {
      if (x.is_same(t)) return image;
    }
    return text;
  }

  LossCollectives for_rank(int rank) const {
    const int world = static_cast<int>(image.size());
    LossCollectives c;
    c.rank = rank;
    c.world_size = world;
    c.all_gather = [this, rank](const torch::Tensor& local) {
      const auto& all = kind_of(local);
      EXPECT_TRUE(all[rank].is_same(local)) << "all_gather must be called with the rank's own features";
      return torch::cat(all, 0);  // under NoGradGuard when the loss asks for no grad
    };
    // A ring where every rank is at the same iteration: what `from_rank` holds now is the
    // tensor k + (from - rank) of the one this rank holds (k).
    c.exchange = [this, rank, world](int from, int to, const torch::Tensor& t) {
      EXPECT_EQ(to, (rank + 1) % world);
      const int k = index_of(text, t);
      return text[((k + from - rank) % world + world) % world];
    };
    c.exchange_bidir = [this, rank, world](int left, int right, const torch::Tensor& to_left,
                                           const torch::Tensor& to_right) {
      EXPECT_EQ(left, (rank - 1 + world) % world);
      EXPECT_EQ(right, (rank + 1) % world);
      // The right neighbour's to_left is one further right than ours, the left one's
      // to_right one further left.
      const int kl = index_of(text, to_left), kr = index_of(text, to_right);
      return std::pair{text[(kl + 1) % world], text[(kr - 1 + world) % world]};
    };
    return c;
  }
};

TEST(ContrastiveLossReference, FourRanksEveryDistributedMode) {
  auto ref = dump("dist");
  const int world = 4;
  const auto image_all = ref["image"], text_all = ref["text"];
  const auto local_b = image_all.size(0) / world;
  struct Case {
    std::string key;
    LossConfig config;
  };
  std::vector<Case> cases;
  for (bool local : {false, true}) {
    for (bool with_grad : {false, true}) {
      LossConfig c;
      c.clip.local_loss = local;
      c.clip.gather_with_grad = with_grad;
      cases.push_back({"clip.local" + std::to_string(local) + ".grad" + std::to_string(with_grad), c});
    }
  }
  for (const std::string impl : {"bidir", "shift", "gather"}) {
    LossConfig c;
    c.name = "siglip";
    c.siglip.dist_impl = impl;
    cases.push_back({"siglip." + impl, c});
  }

  for (const auto& cs : cases) {
    SimulatedRanks ranks;
    for (int r = 0; r < world; ++r) {
      ranks.image.push_back(leaf(image_all.narrow(0, r * local_b, local_b)));
      ranks.text.push_back(leaf(text_all.narrow(0, r * local_b, local_b)));
    }
    // One logit_scale / bias leaf per rank, as every rank holds its own replica.
    std::vector<torch::Tensor> raw, bias;
    torch::Tensor sum;
    for (int r = 0; r < world; ++r) {
      raw.push_back(leaf(ref["raw_scale"]));
      bias.push_back(leaf(ref["bias"]));
      auto loss_fn = build_loss(cs.config, ranks.for_rank(r));
      LossInputs in{ranks.image[r], ranks.text[r], raw[r].exp()};
      if (cs.config.name == "siglip") in.logit_bias = bias[r];
      auto loss = loss_fn(in).total;
      const std::string p = cs.key + ".rank" + std::to_string(r);
      expect_close(p + ".loss", loss, ref[p + ".loss"], kTol);
      sum = sum.defined() ? sum + loss : loss;
    }
    sum.backward();
    for (int r = 0; r < world; ++r) {
      const std::string p = cs.key + ".rank" + std::to_string(r);
      expect_close(p + ".grad_image", ranks.image[r].grad(), ref[p + ".grad_image"], kTol);
      expect_close(p + ".grad_text", ranks.text[r].grad(), ref[p + ".grad_text"], kTol);
      expect_close(p + ".grad_raw_scale", raw[r].grad(), ref[p + ".grad_raw_scale"], kTol);
      if (cs.config.name == "siglip") expect_close(p + ".grad_bias", bias[r].grad(), ref[p + ".grad_bias"], kTol);
    }
  }
}

TEST(HmmcLossReference, ValueAndGradientsIncludingTies) {
  auto ref = dump("hmmc");
  for (const std::string name : {"random", "ties", "satisfied"}) {
    LossConfig cfg;
    cfg.name = "hmmc";
    cfg.hmmc.margin = ref[name + ".margin"].item<double>();
    auto v = leaf(ref[name + ".v"]), t = leaf(ref[name + ".t"]);
    auto v_aug = leaf(ref[name + ".v_aug"]), t_aug = leaf(ref[name + ".t_aug"]);
    auto loss_fn = build_loss(cfg);
    EXPECT_TRUE(loss_fn.needs_augmented_features());
    LossInputs in;
    in.image_features = v;
    in.text_features = t;
    in.image_features_aug = v_aug;
    in.text_features_aug = t_aug;
    auto out = loss_fn(in);
    ASSERT_EQ(out.terms.size(), 1u);
    EXPECT_EQ(out.terms[0].first, "hmmc_loss");
    out.total.backward();
    const double m = cfg.hmmc.margin;
    expect_close(name + ".L_vt", hardest_negative_hinge(v, t, m), ref[name + ".L_vt"], kTol, 1e-6);
    expect_close(name + ".L_vv", hardest_negative_hinge(v, v_aug, m), ref[name + ".L_vv"], kTol, 1e-6);
    expect_close(name + ".L_tt", hardest_negative_hinge(t, t_aug, m), ref[name + ".L_tt"], kTol, 1e-6);
    expect_close(name + ".loss", out.total, ref[name + ".loss"], kTol, 1e-6);
    for (const std::string k : {"v", "t", "v_aug", "t_aug"}) {
      const auto& x = k == "v" ? v : k == "t" ? t : k == "v_aug" ? v_aug : t_aug;
      expect_close(name + ".grad_" + k, x.grad(), ref[name + ".grad_" + k], kTol, 1e-7);
    }
  }
}

TEST(HmmcLossReference, CombinesWithClipByWeight) {
  auto ref = dump("hmmc");
  LossConfig cfg;
  cfg.name = "clip + 0.5*hmmc";
  auto v = leaf(ref["random.v"]), t = leaf(ref["random.t"]);
  namespace F = torch::nn::functional;
  LossInputs in{F::normalize(v, F::NormalizeFuncOptions().dim(-1)), F::normalize(t, F::NormalizeFuncOptions().dim(-1)),
                torch::tensor(1 / 0.07)};
  in.image_features_aug = ref["random.v_aug"];
  in.text_features_aug = ref["random.t_aug"];
  auto out = build_loss(cfg)(in);
  ASSERT_EQ(out.terms.size(), 2u);
  EXPECT_EQ(out.terms[0].first, "clip_loss");
  EXPECT_EQ(out.terms[1].first, "hmmc_loss");
  const auto clip = build_loss(LossConfig{})(in).total;
  EXPECT_TRUE(torch::equal(out.terms[0].second, clip));
  // HMMC normalises its inputs itself, so the normalised features give the reference value.
  expect_close("0.5*hmmc", out.terms[1].second, 0.5 * ref["random.loss"], kTol);
  EXPECT_TRUE(torch::equal(out.total, out.terms[0].second + out.terms[1].second));
}

}  // namespace
}  // namespace rsclip::train
