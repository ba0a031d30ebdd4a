// Shared helpers for the GoogleTest suite: per-test scratch directories, running the
// Python reference scripts from the venv and the rsclip binary, and tensor comparison
// that prints the max error of every tensor it checks (llm.c's test_gpt2 style).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace rsclip::testing {

std::filesystem::path source_dir();
std::filesystem::path rsclip_binary();

// A fresh, empty directory for the running test: <build>/test-tmp/<suite>.<test>.
std::filesystem::path scratch_dir();

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command; output is captured.
CommandResult run_command(const std::string& command);

// Runs `python <source>/<script> args...` with the reference venv; fails the test with the
// script's output if it exits non-zero. Returns its output.
std::string run_python(const std::string& script, const std::vector<std::string>& args = {});

// Runs the rsclip binary with args; returns its result (no assertion on the exit code).
CommandResult run_rsclip(const std::vector<std::string>& args);

// Shell-quotes one argument.
std::string shell_quote(const std::string& arg);

// A command running in the background (its own process group), stdout and stderr to a log
// file: for tests that signal or kill what they started. The destructor kills what is left.
class BackgroundProcess {
 public:
  // `argv[0]` is the program's path; `env` entries "NAME=value" are added to ours.
  BackgroundProcess(const std::vector<std::string>& argv, const std::filesystem::path& log,
                    const std::vector<std::string>& env = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  int pid() const { return pid_; }
  void signal(int sig) const;        // to the process
  void signal_group(int sig) const;  // to its process group (it and its children)
  // The exit status (128 + signal when killed) once it has ended within `seconds`; -1 if
  // it is still running then.
  int wait(double seconds);
  std::string output() const;  // the log so far

 private:
  int pid_ = -1;
  int status_ = -1;
  std::filesystem::path log_;
};

// Polls `ready` every 50 ms for up to `seconds`; true once it holds.
bool wait_until(const std::function<bool()>& ready, double seconds);

// Same dtype, shape and bytes (NaNs with equal bits compare equal; -0 and +0 do not).
bool same_bytes(const torch::Tensor& a, const torch::Tensor& b);

struct TensorDiff {
  double max_abs = 0, max_ref = 0, max_rel = 0;  // max_rel = max_abs / max |reference|
};
TensorDiff compare(const torch::Tensor& actual, const torch::Tensor& expected);

// EXPECTs shapes equal and max|a-e| <= rel_tol * max|e| (+ abs_tol); prints the figures.
void expect_close(const std::string& name, const torch::Tensor& actual, const torch::Tensor& expected, double rel_tol,
                  double abs_tol = 0.0);

}  // namespace rsclip::testing
