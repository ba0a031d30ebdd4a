// open_clip's ClipLoss and SigLipLoss (open_clip/loss.py), operation for operation so that
// values and gradients equal the Python ones on one rank, and with the same collective
// calls in the same order on several.
#include <torch/torch.h>

#include "train/losses/losses.h"

namespace rsclip::train {
namespace {

// Python's `logit_scale * a @ b.T` is `(logit_scale * a) @ b.T`: * and @ share a precedence
// level and associate left, which decides the last bits.
torch::Tensor scaled_logits(const torch::Tensor& logit_scale, const torch::Tensor& a, const torch::Tensor& b) {
  return at::matmul(logit_scale * a, b.t());
}

void check_features(const LossInputs& in, const char* loss) {
  TORCH_CHECK(in.image_features.defined() && in.text_features.defined() && in.logit_scale.defined(), loss,
              " needs image_features, text_features and logit_scale");
  TORCH_CHECK(in.image_features.dim() == 2 && in.text_features.dim() == 2 &&
                  in.image_features.sizes() == in.text_features.sizes(),
              loss, ": image and text features must both be [B, D], got ", in.image_features.sizes(), " and ",
              in.text_features.sizes());
}

}  // namespace

// ----- ClipLoss --------------------------------------------------------------------------
ClipLoss::ClipLoss(ClipLossConfig config, LossCollectives collectives)
    : config_(config), coll_(std::move(collectives)) {
  TORCH_CHECK(coll_.world_size == 1 || coll_.all_gather, "ClipLoss with world size ", coll_.world_size,
              " needs an all_gather collective");
}

// open_clip.loss.gather_features (torch.distributed branch).
std::pair<torch::Tensor, torch::Tensor> ClipLoss::gather(const torch::Tensor& image, const torch::Tensor& text) const {
  if (config_.gather_with_grad) return {coll_.all_gather(image), coll_.all_gather(text)};
  torch::Tensor all_image, all_text;
  {
    torch::NoGradGuard no_grad;
    all_image = coll_.all_gather(image);
    all_text = coll_.all_gather(text);
  }
  if (!config_.local_loss) {
    // The gathered copy carries no graph: put the local rows back so they get gradients.
    auto splice = [&](const torch::Tensor& all, const torch::Tensor& local) {
      auto chunks = all.chunk(coll_.world_size, 0);
      chunks[coll_.rank] = local;
      return torch::cat(chunks, 0);
    };
    all_image = splice(all_image, image);
    all_text = splice(all_text, text);
  }
  return {all_image, all_text};
}

std::pair<torch::Tensor, torch::Tensor> ClipLoss::logits(const LossInputs& in) const {
  const auto& image = in.image_features;
  const auto& text = in.text_features;
  const auto& scale = in.logit_scale;
  torch::Tensor per_image, per_text;
  if (coll_.world_size > 1) {
    auto [all_image, all_text] = gather(image, text);
    if (config_.local_loss) {
      per_image = scaled_logits(scale, image, all_text);
      per_text = scaled_logits(scale, text, all_image);
    } else {
      per_image = scaled_logits(scale, all_image, all_text);
      per_text = per_image.t();
    }
  } else {
    per_image = scaled_logits(scale, image, text);
    per_text = scaled_logits(scale, text, image);
  }
  if (in.logit_bias.defined()) {
    per_image = per_image + in.logit_bias;
    per_text = per_text + in.logit_bias;
  }
  return {per_image, per_text};
}

torch::Tensor ClipLoss::labels(const torch::Device& device, int64_t num_logits) {
  if (config_.cache_labels && cached_labels_.defined() && cached_labels_.device() == device &&
      cached_labels_.size(0) == num_logits) {
    return cached_labels_;
  }
  auto labels = torch::arange(num_logits, torch::TensorOptions().device(device).dtype(torch::kLong));
  if (coll_.world_size > 1 && config_.local_loss) labels = labels + num_logits * coll_.rank;
  if (config_.cache_labels) cached_labels_ = labels;
  return labels;
}

torch::Tensor ClipLoss::forward(const LossInputs& in) {
  check_features(in, "ClipLoss");
  auto [per_image, per_text] = logits(in);
  const auto target = labels(in.image_features.device(), per_image.size(0));
  return (torch::nn::functional::cross_entropy(per_image, target) +
          torch::nn::functional::cross_entropy(per_text, target)) /
         2;
}

// ----- SigLipLoss ------------------------------------------------------------------------
SigLipLoss::SigLipLoss(SigLipLossConfig config, LossCollectives collectives)
    : config_(std::move(config)), coll_(std::move(collectives)) {
  config_.validate();
  if (coll_.world_size > 1) {
    if (config_.dist_impl == "gather") {
      TORCH_CHECK(coll_.all_gather, "SigLipLoss dist_impl=gather needs an all_gather collective");
    } else if (config_.dist_impl == "shift") {
      TORCH_CHECK(coll_.exchange, "SigLipLoss dist_impl=shift needs an exchange collective");
    } else {
      TORCH_CHECK(coll_.exchange_bidir && coll_.exchange,
                  "SigLipLoss dist_impl=bidir needs exchange_bidir and exchange");
    }
  }
}

torch::Tensor SigLipLoss::block_loss(const torch::Tensor& image, const torch::Tensor& text,
                                     const torch::Tensor& logit_scale, const torch::Tensor& logit_bias,
                                     bool negative_only) {
  auto logits = scaled_logits(logit_scale, image, text);
  if (logit_bias.defined()) logits = logits + logit_bias;
  const int64_t n = image.size(0);
  const auto opts = torch::TensorOptions().device(image.device()).dtype(image.dtype());
  auto labels = -torch::ones({n, n}, opts);
  if (!negative_only) labels = 2 * torch::eye(n, opts) + labels;
  return -at::log_sigmoid(labels * logits).sum() / n;
}

torch::Tensor SigLipLoss::forward(const LossInputs& in) {
  check_features(in, "SigLipLoss");
  if (!in.logit_bias.defined()) {
    throw Error(
        "SigLIP needs the model's logit_bias, and this model has none", "loss.name",
        "give the model one: model.init_logit_bias (rsclip train sets -10 itself, as open_clip_train --siglip)");
  }
  const auto& image = in.image_features;
  const auto& scale = in.logit_scale;
  const auto& bias = in.logit_bias;
  auto loss = block_loss(image, in.text_features, scale, bias, false);
  const int world = coll_.world_size;
  if (world == 1) return loss;

  // Every other rank's text block contributes negatives only.
  const int right = (coll_.rank + 1) % world;
  const int left = (coll_.rank - 1 + world) % world;
  if (config_.dist_impl == "bidir") {
    torch::Tensor to_left = in.text_features, to_right = in.text_features;
    const int num_bidir = (world - 1) / 2, remainder = (world - 1) % 2;
    for (int i = 0; i < num_bidir; ++i) {
      auto [from_right, from_left] = coll_.exchange_bidir(left, right, to_left, to_right);
      loss = loss + block_loss(image, from_right, scale, bias, true);
      loss = loss + block_loss(image, from_left, scale, bias, true);
      to_left = from_right;
      to_right = from_left;
    }
    if (remainder) loss = loss + block_loss(image, coll_.exchange(left, right, to_right), scale, bias, true);
  } else if (config_.dist_impl == "shift") {
    torch::Tensor to_right = in.text_features;
    for (int i = 0; i < world - 1; ++i) {
      auto from_left = coll_.exchange(left, right, to_right);
      loss = loss + block_loss(image, from_left, scale, bias, true);
      to_right = from_left;
    }
  } else {
    // open_clip adds 0 * (own block) for i == rank; skipping it adds exactly nothing.
    const auto all_text = coll_.all_gather(in.text_features).chunk(world, 0);
    for (int i = 0; i < world; ++i) {
      if (i != coll_.rank) loss = loss + block_loss(image, all_text[i], scale, bias, true);
    }
  }
  return loss;
}

}  // namespace rsclip::train
