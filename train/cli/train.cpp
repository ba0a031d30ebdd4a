// rsclip train --config FILE [--set key=value]... [--resume auto|never|CHECKPOINT_DIR] [--stop-at-step N]
#include <cstdio>

#include "core/base/log.h"
#include "train/cli/command.h"
#include "train/loop/train_config.h"
#include "train/loop/trainer.h"

namespace rsclip::cli::train_command {

struct TrainArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::string resume = "auto";
  bool print_config = false;
  int64_t stop_at_step = 0;
};

const Command reg("train", [](CLI::App& cmd) {
  cmd.description(
      "Fine-tune a CLIP model from a YAML config (see configs/train/). Exit status 75 means the run stopped "
      "resumably (SIGINT/SIGTERM/SIGUSR1 after a checkpoint, or a peer rank failed): run the same command again to "
      "resume from the newest valid checkpoint.");
  auto a = std::make_shared<TrainArgs>();
  cmd.add_option("--config", a->config, "training config .yaml")->required()->check(CLI::ExistingFile);
  cmd.add_option("--set", a->overrides, "override a config key, e.g. --set optim.lr=1e-4 (repeatable)");
  cmd.add_option("--resume", a->resume,
                 "auto: continue the run's latest checkpoint if there is one; never: fail if there is one; or a "
                 "checkpoint directory")
      ->capture_default_str();
  cmd.add_option("--stop-at-step", a->stop_at_step,
                 "stop like a preemption after this step (checkpoint, exit status 75); resume later");
  cmd.add_flag("--print-config", a->print_config, "print the resolved config and exit");
  cmd.callback([a] {
    const auto cfg = train::load_train_config(a->config, a->overrides);
    if (a->print_config) {
      std::printf("%s", train::dump_train_config(cfg).c_str());
      return;
    }
    if (cfg.logging.level != "info") log::set_level(cfg.logging.level);
    const int status = train::run_training(cfg, {.resume = a->resume, .stop_at_step = a->stop_at_step});
    if (status != 0) throw ExitCode{status};
  });
});

}  // namespace rsclip::cli::train_command
