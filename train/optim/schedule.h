// Learning-rate schedules as pure functions of the optimiser step.
//
// The four formulas equal open_clip_train/scheduler.py (cosine_lr, const_lr,
// const_lr_cooldown) operation for operation, so the double they return is the one Python
// computes; `step` is the PETL paper's decay (x gamma every N epochs), equal to the closed
// form of torch.optim.lr_scheduler.StepLR stepped once per epoch. Every schedule warms up
// linearly over `warmup` steps first: lr = base_lr * (step + 1) / warmup.
//
// A step is one optimiser update (open_clip: step = num_batches_per_epoch * epoch + i_accum,
// with num_batches_per_epoch already divided by accum_freq).
#pragma once

#include <cstdint>
#include <string>

#include "core/base/error.h"

namespace rsclip::train {

// The `schedule:` config section.
struct ScheduleConfig {
  std::string name = "cosine";   // cosine | const | const-cooldown | step
  int64_t warmup = 10000;        // steps of linear warm-up (open_clip --warmup)
  int64_t epochs_cooldown = 0;   // const-cooldown: epochs at the end spent cooling down
  double cooldown_power = 1.0;   // const-cooldown: 1 = linear, else polynomial decay
  double cooldown_end_lr = 0.0;  // const-cooldown: lr reached at the last step
  int64_t step_epochs = 20;      // step: decay every this many epochs
  double gamma = 0.7;            // step: multiply by this at each decay

  template <class V>
  void visit(V& v) {
    v("name", name);
    v("warmup", warmup);
    v("epochs_cooldown", epochs_cooldown);
    v("cooldown_power", cooldown_power);
    v("cooldown_end_lr", cooldown_end_lr);
    v("step_epochs", step_epochs);
    v("gamma", gamma);
  }
  void validate() const;
};

// open_clip_train.scheduler's formulas, for one step.
double warmup_lr(double base_lr, int64_t warmup_length, int64_t step);
double cosine_lr(double base_lr, int64_t warmup_length, int64_t steps, int64_t step);
double const_lr(double base_lr, int64_t warmup_length, int64_t step);
double const_lr_cooldown(double base_lr, int64_t warmup_length, int64_t steps, int64_t cooldown_steps,
                         double cooldown_power, double cooldown_end_lr, int64_t step);
// base_lr * gamma^(epoch / step_epochs) with epoch = step / steps_per_epoch (integer division).
double step_lr(double base_lr, int64_t warmup_length, int64_t steps_per_epoch, int64_t step_epochs, double gamma,
               int64_t step);

// A configured schedule for one run. `base_lr` is the optimiser's configured lr; groups
// with another peak lr (per-tower lr, layer-wise decay) ask for `lr_for(their_lr, step)`,
// which scales the absolute cooldown end lr by the same ratio (exactly 1 for base groups,
// so those get open_clip's value bit for bit).
class Schedule {
 public:
  // total_steps = steps_per_epoch * epochs (open_clip: (num_batches // accum_freq) * epochs).
  Schedule(ScheduleConfig config, double base_lr, int64_t total_steps, int64_t steps_per_epoch);

  double lr(int64_t step) const { return lr_for(base_lr_, step); }
  double lr_for(double group_base_lr, int64_t step) const;

  const ScheduleConfig& config() const { return config_; }
  int64_t total_steps() const { return total_steps_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }

 private:
  enum class Kind { cosine, constant, const_cooldown, step };
  ScheduleConfig config_;
  Kind kind_;
  double base_lr_;
  int64_t total_steps_, steps_per_epoch_, cooldown_steps_;
};

}  // namespace rsclip::train
