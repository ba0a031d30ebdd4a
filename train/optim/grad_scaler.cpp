#include "train/optim/grad_scaler.h"

#include <map>

#include "core/base/error.h"

namespace rsclip::train {

GradScaler::GradScaler(bool enabled, double init_scale, int64_t growth_interval, torch::Device device)
    : enabled_(enabled), growth_interval_(growth_interval) {
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat).device(device);
  scale_ = torch::full({1}, init_scale, f32);
  growth_tracker_ = torch::zeros({1}, f32.dtype(torch::kInt));
  found_inf_ = torch::zeros({1}, f32);
}

torch::Tensor GradScaler::scale(const torch::Tensor& loss) const {
  return enabled_ ? loss * scale_.to(loss.scalar_type()) : loss;
}

bool GradScaler::unscale(const std::vector<torch::Tensor>& parameters) {
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  found_inf_.zero_();
  const auto inv_scale = scale_.to(torch::kDouble).reciprocal().to(torch::kFloat);
  // The kernel wants one dtype per call (torch groups by device and dtype).
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_dtype;
  for (const auto& p : parameters) {
    if (p.grad().defined()) by_dtype[p.grad().scalar_type()].push_back(p.grad());
  }
  for (auto& [dtype, grads] : by_dtype) at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, inv_scale);
  return found_inf_.item<float>() == 0.0f;
}

void GradScaler::update() {
  if (!enabled_) return;
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, 2.0, 0.5, growth_interval_);
  found_inf_.zero_();
}

double GradScaler::current_scale() const { return enabled_ ? scale_.item<double>() : 1.0; }

StateDict GradScaler::state_dict() const {
  StateDict s;
  s.insert("scaler.scale", scale_.cpu());
  s.insert("scaler.growth_tracker", growth_tracker_.cpu());
  return s;
}

void GradScaler::load_state_dict(const StateDict& state) {
  if (!enabled_) return;
  const auto* scale = state.find("scaler.scale");
  const auto* tracker = state.find("scaler.growth_tracker");
  if (!scale || !tracker)
    throw Error("checkpoint has no grad scaler state", "optimizer.safetensors",
                "was it trained with another precision?");
  scale_.copy_(*scale);
  growth_tracker_.copy_(*tracker);
}

}  // namespace rsclip::train
