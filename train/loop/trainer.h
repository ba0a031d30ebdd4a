// `rsclip train`: the training loop. Builds the model (config, init checkpoint, PEFT method,
// freezing), the data loader, loss, optimiser, schedule and precision from a TrainConfig,
// runs open_clip_train's step (train/loop/train_step.h) for `schedule.epochs` epochs or
// `schedule.max_steps` steps, logs and evaluates, and checkpoints atomically so an
// interrupted run resumes exactly (bitwise on CPU: model, optimiser, scaler, schedule, data
// position and every RNG).
//
// Exit status: 0 finished; kExitPreempted (75) when SIGINT/SIGTERM/SIGUSR1 (Ctrl-C, cluster
// preemption) asked it to stop — at a step boundary a checkpoint is written, mid-wait or
// mid-evaluation the last one stands — or when a peer rank failed; `--resume auto`
// continues. 1 for errors, including a non-finite loss with `loss.on_nonfinite: stop`.
#pragma once

#include <string>

#include "core/base/stop_signal.h"
#include "train/loop/train_config.h"

namespace rsclip::train {

inline constexpr int kExitPreempted = stop::kExitResumable;  // 75, EX_TEMPFAIL: try again (resume)

struct TrainOptions {
  std::string resume = "auto";  // auto (latest checkpoint of the run, if any) | never | PATH to a checkpoint
  // > 0: stop as a preemption would (checkpoint, kExitPreempted) once this step is done;
  // for time-boxed jobs and resume tests.
  int64_t stop_at_step = 0;
  // > 0: fault injection for tests: after this step's backward the first trainable gradient
  // becomes +inf, as an fp16 overflow makes it (the grad scaler must skip the step).
  int64_t inf_gradient_at_step = 0;
};

// Runs training; returns the exit status above. rsclip::Error for user errors.
int run_training(const TrainConfig& config, const TrainOptions& options);

}  // namespace rsclip::train
