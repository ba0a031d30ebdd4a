#include "train/loop/train_step.h"

#include "core/base/autocast.h"
#include "core/base/error.h"
#include "core/dist/collectives_autograd.h"

namespace rsclip::train {
namespace {

struct Features {
  torch::Tensor image, text, image_aug, text_aug;
};

struct Inputs {
  torch::Tensor images, tokens;
};

Inputs to_device(const StepContext& ctx, const data::Batch& b) {
  const auto dtype = ctx.precision == Precision::pure_bf16 ? torch::kBFloat16 : torch::kFloat;
  return {b.images.to(ctx.device, dtype, /*non_blocking=*/true), b.tokens.to(ctx.device, /*non_blocking=*/true)};
}

// open_clip's model forward: normalised features (under the caller's autocast), plus the
// augmented second pass when the loss wants it.
Features encode(StepContext& ctx, const Inputs& in) {
  Features f;
  f.image = ctx.model.encode_image(in.images, /*normalize=*/true);
  f.text = ctx.model.encode_text(in.tokens, /*normalize=*/true);
  if (ctx.loss.needs_augmented_features()) {
    models::InputDropoutScope dropout(ctx.model, ctx.token_dropout);
    f.image_aug = ctx.model.encode_image(in.images, true);
    f.text_aug = ctx.model.encode_text(in.tokens, true);
  }
  return f;
}

LossInputs loss_inputs(StepContext& ctx, Features f) {
  LossInputs in(std::move(f.image), std::move(f.text), ctx.model.logit_scale.exp(),
                ctx.model.logit_bias.defined() ? ctx.model.logit_bias : torch::Tensor());
  in.image_features_aug = std::move(f.image_aug);
  in.text_features_aug = std::move(f.text_aug);
  return in;
}

// Every rank must agree before skipping a backward (else DDP's collectives would hang).
bool all_finite(StepContext& ctx, const torch::Tensor& loss) {
  float bad = std::isfinite(loss.item<float>()) ? 0.0f : 1.0f;
  if (ctx.dist && ctx.dist->enabled()) {
    auto flag = torch::full({1}, bad, torch::TensorOptions().device(ctx.dist->device()));
    ctx.dist->all_reduce(flag, ReduceOp::max);
    bad = flag.item<float>();
  }
  return bad == 0.0f;
}

StepResult result_of(const LossOutput& out) {
  StepResult r;
  r.loss = out.total.item<double>();
  for (const auto& [name, value] : out.terms) r.terms[name] = value.item<double>();
  return r;
}

torch::Tensor cat_with(const std::vector<torch::Tensor>& cached, std::size_t j, const torch::Tensor& live) {
  if (!live.defined()) return {};
  std::vector<torch::Tensor> parts(cached.begin(), cached.end());
  parts[j] = live;
  return torch::cat(parts, 0);
}

}  // namespace

Precision parse_precision(const std::string& mode) {
  if (mode == "fp32") return Precision::fp32;
  if (mode == "amp_bf16") return Precision::amp_bf16;
  if (mode == "amp") return Precision::amp_fp16;
  if (mode == "pure_bf16") return Precision::pure_bf16;
  throw Error("unknown precision '" + mode + "'", "precision.mode", "use fp32, amp_bf16, amp or pure_bf16");
}

std::optional<c10::ScalarType> autocast_dtype(Precision p) {
  if (p == Precision::amp_bf16) return torch::kBFloat16;
  if (p == Precision::amp_fp16) return torch::kHalf;
  return std::nullopt;
}

StepResult forward_backward(StepContext& ctx, const std::vector<data::Batch>& micro) {
  TORCH_CHECK(!micro.empty(), "a step needs at least one micro-batch");
  const auto autocast = autocast_dtype(ctx.precision);
  auto scope = [&] {
    return autocast ? std::make_optional<AutocastScope>(ctx.device.type(), *autocast) : std::nullopt;
  };
  auto backward = [&](const torch::Tensor& total) { ctx.scaler.scale(total).backward(); };

  if (micro.size() == 1) {
    const auto in = to_device(ctx, micro[0]);
    LossOutput out;
    {
      auto autocast_scope = scope();
      out = ctx.loss(loss_inputs(ctx, encode(ctx, in)));
    }
    StepResult r = result_of(out);
    r.finite = all_finite(ctx, out.total);
    if (r.finite) backward(out.total);
    return r;
  }

  // Accumulation: cache every micro-batch's features without gradients first.
  std::vector<Inputs> inputs;
  std::vector<torch::Tensor> img, txt, img_aug, txt_aug;
  {
    torch::NoGradGuard no_grad;
    auto autocast_scope = scope();
    for (const auto& b : micro) {
      inputs.push_back(to_device(ctx, b));
      auto f = encode(ctx, inputs.back());
      img.push_back(f.image), txt.push_back(f.text), img_aug.push_back(f.image_aug), txt_aug.push_back(f.text_aug);
    }
  }
  StepResult r;
  for (std::size_t j = 0; j < micro.size(); ++j) {
    LossOutput out;
    {
      auto autocast_scope = scope();
      auto live = encode(ctx, inputs[j]);
      Features all{cat_with(img, j, live.image), cat_with(txt, j, live.text), cat_with(img_aug, j, live.image_aug),
                   cat_with(txt_aug, j, live.text_aug)};
      out = ctx.loss(loss_inputs(ctx, std::move(all)));
    }
    if (j == 0) {  // every micro-batch's loss is the full batch's; decide on the first
      r = result_of(out);
      r.finite = all_finite(ctx, out.total);
      if (!r.finite) return r;
    }
    std::optional<DataParallel::NoSync> no_sync;
    if (ctx.ddp && j + 1 < micro.size()) no_sync.emplace(ctx.ddp->no_sync());
    backward(out.total);
  }
  return r;
}

}  // namespace rsclip::train
