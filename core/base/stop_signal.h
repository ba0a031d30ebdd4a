// Graceful stop on SIGINT, SIGTERM and SIGUSR1 (Ctrl-C, a cluster's preemption notice,
// torchrun and SLURM shutting a job down). The first signal only sets a flag: long-running
// code polls it at safe points (the trainer after each step, the loader while it waits for a
// batch, the evaluator between batches) and stops with a checkpoint or, mid-way, by throwing
// StopRequested. A second signal ends the process at once with kExitResumable (75): nothing
// in flight is waited for, and the checkpoints on disk stay as they are (they are written
// atomically).
#pragma once

#include <stdexcept>
#include <string>

namespace rsclip::stop {

inline constexpr int kExitResumable = 75;  // EX_TEMPFAIL: stopped, rerun to continue

// Installs the handlers while it lives (the previous ones come back afterwards) and clears
// the flag. One at a time.
class SignalScope {
 public:
  SignalScope();
  ~SignalScope();
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;
};

// The first signal received under the current scope, 0 if none.
int requested();

// Thrown by code that stops mid-way (between consistent states) after a signal.
class StopRequested : public std::runtime_error {
 public:
  explicit StopRequested(int signal);
  int signal() const { return signal_; }

 private:
  int signal_;
};

// Throws StopRequested when a signal has arrived.
void throw_if_requested();

}  // namespace rsclip::stop
