#include "train/eval/eval_metrics.h"

#include "core/base/error.h"

namespace rsclip::train {
namespace {

torch::Tensor l2_normalize(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x.to(torch::kFloat), torch::nn::functional::NormalizeFuncOptions().dim(-1));
}

// rank[q] = position of item target[q] in row q of `scores` under the stable descending
// order (0 = best): #strictly greater + #equal with lower index.
torch::Tensor stable_rank(const torch::Tensor& scores, const torch::Tensor& target) {
  auto own = scores.gather(1, target.unsqueeze(1));  // [Q, 1]
  auto idx = torch::arange(scores.size(1), target.options()).unsqueeze(0);
  auto before = (scores > own) | ((scores == own) & (idx < target.unsqueeze(1)));
  return before.sum(1);
}

}  // namespace

Ensemble parse_ensemble(const std::string& name) {
  if (name == "georsclip") return Ensemble::georsclip;
  if (name == "open_clip") return Ensemble::open_clip;
  throw Error("unknown template ensemble '" + name + "'", "ensemble", "use georsclip or open_clip");
}

torch::Tensor build_classifier(const std::vector<torch::Tensor>& per_class, Ensemble ensemble) {
  std::vector<torch::Tensor> rows;
  rows.reserve(per_class.size());
  for (const auto& t : per_class) {
    auto f = t.to(torch::kFloat);
    rows.push_back(ensemble == Ensemble::georsclip ? f.mean(0) : l2_normalize(f).mean(0));
  }
  return l2_normalize(torch::stack(rows));
}

ZeroShotResult zeroshot_metrics(const torch::Tensor& image_features, const torch::Tensor& classifier,
                                const torch::Tensor& labels_in) {
  TORCH_CHECK(image_features.size(0) == labels_in.size(0), "features and labels differ in length");
  const auto logits = 100.0 * torch::matmul(l2_normalize(image_features), l2_normalize(classifier).t());
  const auto labels = labels_in.to(torch::kLong);
  const auto rank = stable_rank(logits, labels);
  ZeroShotResult r;
  r.samples = labels.size(0);
  if (r.samples == 0) return r;
  r.top1 = 100.0 * (rank < 1).to(torch::kDouble).mean().item<double>();
  r.top5 = 100.0 * (rank < 5).to(torch::kDouble).mean().item<double>();
  const int64_t classes = classifier.size(0);
  double sum = 0;
  int64_t present = 0;
  for (int64_t c = 0; c < classes; ++c) {
    const auto mask = labels == c;
    const int64_t n = mask.sum().item<int64_t>();
    const double acc = n ? 100.0 * (rank.masked_select(mask) < 1).to(torch::kDouble).mean().item<double>() : 0.0;
    r.per_class.push_back(acc);
    r.per_class_count.push_back(n);
    if (n) sum += acc, ++present;
  }
  r.mean_per_class = present ? sum / present : 0.0;
  return r;
}

RetrievalResult retrieval_metrics(const torch::Tensor& image_features, const torch::Tensor& text_features,
                                  const std::vector<int64_t>& caption_image) {
  TORCH_CHECK(text_features.size(0) == static_cast<int64_t>(caption_image.size()),
              "one image index per caption needed");
  const int64_t n_images = image_features.size(0);
  for (auto i : caption_image) TORCH_CHECK(i >= 0 && i < n_images, "caption image index out of range");
  const auto scores = torch::matmul(l2_normalize(text_features), l2_normalize(image_features).t());  // [T, I]
  const auto target = torch::tensor(caption_image, torch::kLong);

  RetrievalResult r;
  r.images = n_images;
  r.captions = text_features.size(0);
  // Text -> image: the caption's own image.
  const auto t2i_rank = stable_rank(scores, target);
  // Image -> text: the best-ranked of the image's captions, in the image's column.
  const auto i2t_all = stable_rank(scores.t().index_select(0, target), torch::arange(r.captions, torch::kLong));
  auto i2t_rank = torch::full({n_images}, std::numeric_limits<int64_t>::max(), torch::kLong);
  i2t_rank.scatter_reduce_(0, target, i2t_all, "amin", /*include_self=*/true);
  auto recall = [](const torch::Tensor& rank, int64_t k) {
    return 100.0 * (rank < k).to(torch::kDouble).mean().item<double>();
  };
  r.i2t_r1 = recall(i2t_rank, 1), r.i2t_r5 = recall(i2t_rank, 5), r.i2t_r10 = recall(i2t_rank, 10);
  r.t2i_r1 = recall(t2i_rank, 1), r.t2i_r5 = recall(t2i_rank, 5), r.t2i_r10 = recall(t2i_rank, 10);
  r.mean_recall = (r.i2t_r1 + r.i2t_r5 + r.i2t_r10 + r.t2i_r1 + r.t2i_r5 + r.t2i_r10) / 6.0;
  return r;
}

}  // namespace rsclip::train
