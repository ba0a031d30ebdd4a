// A toy two-tower CLIP shared by the distributed worker (tests/core/dist/dist_worker.cpp) and the
// tests that compute the single-process reference: same initialisation, same data, same
// loss (open_clip ClipLoss with gather_features), so "2 ranks x batch B" can be compared
// with "1 process x batch 2B".
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "core/dist/collectives_autograd.h"
#include "core/dist/distributed.h"

namespace rsclip::testing::toy {

struct ToyClipImpl : torch::nn::Module {
  torch::nn::Linear frozen{nullptr}, image{nullptr}, text{nullptr};
  torch::Tensor logit_scale;

  explicit ToyClipImpl(uint64_t seed) {
    torch::manual_seed(seed);
    frozen = register_module("frozen", torch::nn::Linear(16, 16));  // a frozen base layer, as PEFT leaves
    image = register_module("image", torch::nn::Linear(16, 8));
    text = register_module("text", torch::nn::Linear(12, 8));
    logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1 / 0.07)));
    for (auto& p : frozen->parameters()) p.requires_grad_(false);
  }

  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& images, const torch::Tensor& texts) {
    namespace F = torch::nn::functional;
    auto i = F::normalize(image(torch::tanh(frozen(images))), F::NormalizeFuncOptions().dim(-1));
    auto t = F::normalize(text(texts), F::NormalizeFuncOptions().dim(-1));
    return {i, t};
  }
};
TORCH_MODULE(ToyClip);

struct Batch {
  torch::Tensor images, texts;
};

// Rank `rank`'s `rows` samples of micro-batch `micro` of step `step`: the same numbers
// whoever asks, so a reference can assemble the global batch.
inline Batch shard(int step, int micro, int rank, int64_t rows) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(1000003 * step + 1009 * micro + rank));
  return {torch::randn({rows, 16}, gen), torch::randn({rows, 12}, gen)};
}

// The global micro-batch: every rank's shard in rank order.
inline Batch global_batch(int step, int micro, int world, int64_t rows_per_rank) {
  std::vector<torch::Tensor> images, texts;
  for (int r = 0; r < world; ++r) {
    auto b = shard(step, micro, r, rows_per_rank);
    images.push_back(b.images);
    texts.push_back(b.texts);
  }
  return {torch::cat(images), torch::cat(texts)};
}

// open_clip ClipLoss.forward (get_logits + cross-entropy of both directions).
inline torch::Tensor clip_loss(Distributed& dist, const torch::Tensor& img, const torch::Tensor& txt,
                               const torch::Tensor& logit_scale, bool gather_with_grad, bool local_loss) {
  const auto scale = logit_scale.exp();
  torch::Tensor per_image, per_text;
  const bool gathered = dist.enabled() && dist.world_size() > 1;
  if (gathered) {
    auto all_img = gather_features(dist, img, gather_with_grad, local_loss);
    auto all_txt = gather_features(dist, txt, gather_with_grad, local_loss);
    if (local_loss) {
      per_image = scale * img.matmul(all_txt.t());
      per_text = scale * txt.matmul(all_img.t());
    } else {
      per_image = scale * all_img.matmul(all_txt.t());
      per_text = per_image.t();
    }
  } else {
    per_image = scale * img.matmul(txt.t());
    per_text = scale * txt.matmul(img.t());
  }
  auto labels = torch::arange(per_image.size(0), torch::kLong);
  if (gathered && local_loss) labels = labels + per_image.size(0) * dist.rank();
  namespace F = torch::nn::functional;
  return (F::cross_entropy(per_image, labels) + F::cross_entropy(per_text, labels)) / 2;
}

// Plain SGD, so the comparison does not depend on an optimizer implementation. The rate
// keeps every parameter well away from zero over a few steps (no cancellation that would
// turn fp32 rounding into a large relative error).
constexpr double kLearningRate = 0.1;
inline void sgd_step(ToyClip& model, double lr = kLearningRate) {
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) {
    if (p.requires_grad() && p.grad().defined()) p.sub_(lr * p.grad());
  }
}

inline void zero_grad(ToyClip& model) {
  for (auto& p : model->parameters()) {
    if (p.grad().defined()) p.grad().zero_();
  }
}

}  // namespace rsclip::testing::toy
