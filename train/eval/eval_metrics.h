// Zero-shot classification and image-text retrieval metrics, as GeoRSCLIP / CLIP_benchmark /
// open_clip compute them (see docs/reference.md):
//
// Zero-shot: logits = 100 * normalize(image) @ W.T, with W one row per class built from
// the template embeddings by either ensemble rule:
//   georsclip  mean of the raw template embeddings, then L2-normalise (GeoRSCLIP's code);
//   open_clip  L2-normalise each, mean, L2-normalise (open_clip's build_zero_shot_classifier).
// Retrieval: scores = normalize(text) @ normalize(image).T; a query is a hit at K when any of
// its correct items is among its top K (R@K = % of queries hit); mR = mean of I2T and T2I
// R@1/5/10.
// Ties in ranking are broken by lower index, i.e. a stable descending sort: an item ranks
// after every strictly better-scoring item and after equal-scoring items of lower index.
// (torch.topk leaves the order of ties unspecified; this makes the metric deterministic.)
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

namespace rsclip::train {

enum class Ensemble { georsclip, open_clip };
Ensemble parse_ensemble(const std::string& name);  // "georsclip" | "open_clip"

// per_class[c] = raw (un-normalised) text features of class c's templates, [T, E].
// Returns the classifier [C, E] with L2-normalised rows.
torch::Tensor build_classifier(const std::vector<torch::Tensor>& per_class, Ensemble ensemble);

struct ZeroShotResult {
  double top1 = 0, top5 = 0, mean_per_class = 0;  // percent
  std::vector<double> per_class;                  // top-1 percent per class (NaN-free: empty classes 0)
  std::vector<int64_t> per_class_count;
  int64_t samples = 0;
};

// image_features [N, E] (raw or normalised), classifier [C, E], labels [N].
ZeroShotResult zeroshot_metrics(const torch::Tensor& image_features, const torch::Tensor& classifier,
                                const torch::Tensor& labels);

struct RetrievalResult {
  double i2t_r1 = 0, i2t_r5 = 0, i2t_r10 = 0, t2i_r1 = 0, t2i_r5 = 0, t2i_r10 = 0, mean_recall = 0;  // percent
  int64_t images = 0, captions = 0;
};

// image_features [I, E], text_features [T, E] (raw or normalised), caption_image[t] = index
// of the image caption t describes.
RetrievalResult retrieval_metrics(const torch::Tensor& image_features, const torch::Tensor& text_features,
                                  const std::vector<int64_t>& caption_image);

}  // namespace rsclip::train
