// Runs a sweep's variants as `rsclip train` child processes, N at a time:
//
//   <exe> train --config BASE --set ... --set name=<variant> --set output_dir=<sweep>/runs --resume auto
//
// with stdout and stderr appended to <sweep>/logs/<variant>.log (and, for several CPU jobs,
// OMP_NUM_THREADS = cores / jobs unless already set). A variant whose
// runs/<variant>/summary.json says "finished" is skipped; any other is (re)started, and the
// trainer's `--resume auto` continues an interrupted one from its last checkpoint. Outcomes
// go to <sweep>/status.json (train/sweep/sweep_status.h); a failed variant does not stop the
// others.
//
// Signals: SIGINT/SIGTERM to the sweep forward SIGTERM to the running trainers (they
// checkpoint and exit 75), start nothing new, and the sweep returns 75; a second signal sends
// SIGKILL. Children run in their own process group (a terminal's Ctrl-C reaches only the
// sweep, which forwards it as SIGTERM) and get SIGTERM if the sweep dies (PR_SET_PDEATHSIG),
// so a SIGKILLed sweep leaves no trainer running on. Each child holds an flock on its log
// file for as long as it lives; a rerun waits on that lock, so it never starts a second
// trainer in a run directory whose previous one is still checkpointing.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "train/sweep/sweep.h"

namespace rsclip::train {

struct SweepRunOptions {
  int64_t jobs = 0;               // 0: the sweep file's `jobs`, or one per GPU with `gpus`
  std::vector<std::string> gpus;  // CUDA_VISIBLE_DEVICES value of each job; adds model.device=cuda
  std::filesystem::path exe;      // the rsclip binary; empty: this process's (/proc/self/exe)
};

// The extra `--set`s every variant gets under these options (model.device=cuda with GPUs).
std::vector<std::string> sweep_extra_overrides(const SweepRunOptions& options);

// The command line of a variant's trainer: exe train --config BASE --set ... --resume auto.
std::vector<std::string> train_argv(const SweepConfig& config, const SweepVariant& variant,
                                    const std::vector<std::string>& extra, const std::string& exe);

// argv as one line a POSIX shell reads back the same (arguments quoted where needed).
std::string shell_join(const std::vector<std::string>& argv);

// Runs what is not finished. Returns 0 when every variant finished, kExitPreempted (75) when
// interrupted (rerun to continue), 1 when some variant failed.
int run_sweep(const SweepConfig& config, const std::vector<SweepVariant>& variants, const SweepRunOptions& options);

// True when RUN_DIR/summary.json exists and says "finished".
bool run_finished(const std::filesystem::path& run_dir);

}  // namespace rsclip::train
