// HMMC (Yuan, Zhan, Xiong, TGRS 2023; see docs/reference.md): hardest-negative hinge
// (VSE++'s max-violation loss) between the clean image and text features and between each
// modality and its own token-dropout view. The authors' code ships no loss, so the formula
// of the paper is the reference (tests/reference/hmmc_reference.py writes it out plainly).
#include <torch/torch.h>

#include "train/losses/losses.h"

namespace rsclip::train {

torch::Tensor hardest_negative_hinge(const torch::Tensor& a, const torch::Tensor& b, double margin) {
  TORCH_CHECK(a.dim() == 2 && a.sizes() == b.sizes(), "hardest_negative_hinge: a and b must both be [B, D], got ",
              a.sizes(), " and ", b.sizes());
  namespace F = torch::nn::functional;
  const auto cosine = at::matmul(F::normalize(a, F::NormalizeFuncOptions().dim(-1)),
                                 F::normalize(b, F::NormalizeFuncOptions().dim(-1)).t());  // s(a_i, b_j)
  const auto positive = cosine.diagonal();
  const int64_t n = cosine.size(0);
  // cost_rows[i][j] = [m + s(a_i,b_j) - s(a_i,b_i)]_+ ; cost_cols[i][j] = [m + s(a_i,b_j) - s(a_j,b_j)]_+
  auto cost_rows = (margin + cosine - positive.view({n, 1})).clamp_min(0);
  auto cost_cols = (margin + cosine - positive.view({1, n})).clamp_min(0);
  // Positives are not negatives: zero them (every cost is >= 0, so the max over j != i is
  // unchanged; a zeroed entry carries no gradient).
  const auto diagonal = torch::eye(n, torch::TensorOptions().dtype(torch::kBool).device(cosine.device()));
  cost_rows = cost_rows.masked_fill(diagonal, 0);
  cost_cols = cost_cols.masked_fill(diagonal, 0);
  return std::get<0>(cost_rows.max(1)).sum() + std::get<0>(cost_cols.max(0)).sum();
}

torch::Tensor HmmcLoss::forward(const LossInputs& in) {
  TORCH_CHECK(in.image_features.defined() && in.text_features.defined(), "HMMC needs image_features and text_features");
  TORCH_CHECK(in.image_features_aug.defined() && in.text_features_aug.defined(),
              "HMMC needs the features of the token-dropout pass (image_features_aug, text_features_aug)");
  const double m = config_.margin;
  return hardest_negative_hinge(in.image_features, in.text_features, m) +
         hardest_negative_hinge(in.image_features, in.image_features_aug, m) +
         hardest_negative_hinge(in.text_features, in.text_features_aug, m);
}

}  // namespace rsclip::train
