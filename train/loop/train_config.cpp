#include "train/loop/train_config.h"

#include "core/base/config.h"
#include "core/base/error.h"

namespace rsclip::train {

void EmaConfig::validate() const {
  if (decay < 0 || decay >= 1) throw Error("must be in [0, 1) (0 = off)", "decay");
}

void OptimSection::validate() const {
  OptimizerConfig::validate();
  if (accum_freq < 1) throw Error("must be at least 1", "accum_freq");
}

void ScheduleSection::validate() const {
  ScheduleConfig::validate();
  if (epochs < 1) throw Error("must be at least 1", "epochs");
  if (max_steps < 0) throw Error("must be >= 0 (0 = no limit)", "max_steps");
}

void PrecisionSection::validate() const {
  if (mode != "fp32" && mode != "amp_bf16" && mode != "amp" && mode != "pure_bf16") {
    throw Error("unknown precision '" + mode + "'", "mode",
                "use fp32, amp_bf16, amp (fp16 + grad scaler) or pure_bf16");
  }
  if (init_scale <= 0 || growth_interval < 1) throw Error("grad scaler settings must be positive", "init_scale");
}

void LossSection::validate() const {
  LossConfig::validate();
  if (on_nonfinite != "skip" && on_nonfinite != "stop") {
    throw Error("must be skip or stop", "on_nonfinite");
  }
}

void LoggingSection::validate() const {
  if (every_steps < 1) throw Error("must be at least 1", "every_steps");
  if (progress != "auto" && progress != "bar" && progress != "lines" && progress != "off") {
    throw Error("must be auto, bar, lines or off", "progress");
  }
  if (tensorboard != "auto" && tensorboard != "true" && tensorboard != "false") {
    throw Error("must be auto, true or false", "tensorboard");
  }
}

TrainConfig load_train_config(const std::string& file, const std::vector<std::string>& overrides) {
  YAML::Node root = config::load_file(file);
  for (const auto& o : overrides) config::apply_override(root, o);
  return config::read<TrainConfig>(root, file);
}

std::string dump_train_config(const TrainConfig& cfg) { return config::to_yaml(config::write(cfg)); }

}  // namespace rsclip::train
