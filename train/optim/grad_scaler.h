// Loss scaling for fp16 mixed precision (precision: amp), as torch.amp.GradScaler: the loss
// is multiplied by `scale` before backward, gradients are unscaled (and checked for inf/NaN)
// before clipping and the step, a step with non-finite gradients is skipped, and the scale
// halves on overflow and doubles after `growth_interval` clean steps. Same ATen kernels
// (_amp_foreach_non_finite_check_and_unscale_, _amp_update_scale_) as Python.
#pragma once

#include <torch/torch.h>

#include "core/io/state_dict.h"

namespace rsclip::train {

class GradScaler {
 public:
  GradScaler(bool enabled, double init_scale, int64_t growth_interval, torch::Device device);

  bool enabled() const { return enabled_; }
  torch::Tensor scale(const torch::Tensor& loss) const;  // loss * scale (loss itself when disabled)
  // Unscales the gradients in place; true when every gradient is finite. Call once per step.
  bool unscale(const std::vector<torch::Tensor>& parameters);
  void update();  // after the step (taken or skipped)
  double current_scale() const;

  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 private:
  bool enabled_;
  int64_t growth_interval_;
  torch::Tensor scale_, growth_tracker_, found_inf_;
};

}  // namespace rsclip::train
