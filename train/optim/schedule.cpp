#include "train/optim/schedule.h"

#include <cmath>
#include <numbers>

#include "core/base/config.h"

namespace rsclip::train {

void ScheduleConfig::validate() const {
  if (name != "cosine" && name != "const" && name != "const-cooldown" && name != "step") {
    throw Error(
        "unknown schedule '" + name + "'" + config::did_you_mean(name, {"cosine", "const", "const-cooldown", "step"}),
        "name", "use one of: cosine, const, const-cooldown, step");
  }
  if (warmup < 0) throw Error("must be >= 0", "warmup");
  if (epochs_cooldown < 0) throw Error("must be >= 0", "epochs_cooldown");
  if (!(cooldown_power > 0)) throw Error("must be > 0", "cooldown_power");
  if (!(cooldown_end_lr >= 0)) throw Error("must be >= 0", "cooldown_end_lr");
  if (step_epochs < 1) throw Error("must be >= 1", "step_epochs");
  if (!(gamma > 0)) throw Error("must be > 0", "gamma");
}

// Each expression keeps Python's evaluation order (left to right, ints promoted to double
// exactly), so the results are the doubles open_clip_train computes.
double warmup_lr(double base_lr, int64_t warmup_length, int64_t step) {
  return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_length);
}

double const_lr(double base_lr, int64_t warmup_length, int64_t step) {
  return step < warmup_length ? warmup_lr(base_lr, warmup_length, step) : base_lr;
}

double cosine_lr(double base_lr, int64_t warmup_length, int64_t steps, int64_t step) {
  if (step < warmup_length) return warmup_lr(base_lr, warmup_length, step);
  const auto e = static_cast<double>(step - warmup_length);
  const auto es = static_cast<double>(steps - warmup_length);
  return 0.5 * (1 + std::cos(std::numbers::pi * e / es)) * base_lr;
}

double const_lr_cooldown(double base_lr, int64_t warmup_length, int64_t steps, int64_t cooldown_steps,
                         double cooldown_power, double cooldown_end_lr, int64_t step) {
  const int64_t start_cooldown_step = steps - cooldown_steps;
  if (step < warmup_length) return warmup_lr(base_lr, warmup_length, step);
  if (step < start_cooldown_step) return base_lr;
  const auto e = static_cast<double>(step - start_cooldown_step);
  const auto es = static_cast<double>(steps - start_cooldown_step);
  const double decay = std::pow(1 - (e / es), cooldown_power);
  return decay * (base_lr - cooldown_end_lr) + cooldown_end_lr;
}

double step_lr(double base_lr, int64_t warmup_length, int64_t steps_per_epoch, int64_t step_epochs, double gamma,
               int64_t step) {
  if (step < warmup_length) return warmup_lr(base_lr, warmup_length, step);
  const int64_t epoch = step / steps_per_epoch;
  // StepLR's closed form: base_lr * gamma ** (last_epoch // step_size).
  return base_lr * std::pow(gamma, static_cast<double>(epoch / step_epochs));
}

Schedule::Schedule(ScheduleConfig config, double base_lr, int64_t total_steps, int64_t steps_per_epoch)
    : config_(std::move(config)), base_lr_(base_lr), total_steps_(total_steps), steps_per_epoch_(steps_per_epoch) {
  config_.validate();
  if (steps_per_epoch < 1)
    throw Error("a schedule needs at least one step per epoch", "schedule",
                "check the batch size and accum_freq against the data size");
  if (total_steps < 1) throw Error("a schedule needs at least one step", "schedule", "check epochs");
  if (config_.name == "cosine")
    kind_ = Kind::cosine;
  else if (config_.name == "const")
    kind_ = Kind::constant;
  else if (config_.name == "const-cooldown")
    kind_ = Kind::const_cooldown;
  else
    kind_ = Kind::step;
  // open_clip: cooldown_steps = (num_batches // accum_freq) * epochs_cooldown.
  cooldown_steps_ = steps_per_epoch_ * config_.epochs_cooldown;
  if (kind_ == Kind::const_cooldown && cooldown_steps_ > total_steps_) {
    throw Error("epochs_cooldown spans " + std::to_string(cooldown_steps_) + " steps, more than the run's " +
                    std::to_string(total_steps_),
                "schedule.epochs_cooldown", "make it at most the number of epochs");
  }
}

double Schedule::lr_for(double group_base_lr, int64_t step) const {
  TORCH_CHECK(step >= 0, "schedule step must be >= 0, got ", step);
  switch (kind_) {
    case Kind::cosine: return cosine_lr(group_base_lr, config_.warmup, total_steps_, step);
    case Kind::constant: return const_lr(group_base_lr, config_.warmup, step);
    case Kind::const_cooldown: {
      const double end =
          group_base_lr == base_lr_ ? config_.cooldown_end_lr : config_.cooldown_end_lr * (group_base_lr / base_lr_);
      return const_lr_cooldown(group_base_lr, config_.warmup, total_steps_, cooldown_steps_, config_.cooldown_power,
                               end, step);
    }
    case Kind::step:
      return step_lr(group_base_lr, config_.warmup, steps_per_epoch_, config_.step_epochs, config_.gamma, step);
  }
  return group_base_lr;
}

}  // namespace rsclip::train
