// Subcommands register themselves: each train/cli/<name>.cpp holds
//
//   static const rsclip::cli::Command reg("info", [](CLI::App& cmd) {
//     cmd.description("...");  cmd.add_option(...);  cmd.callback([&] { ... });
//   });
//
// main.cpp adds them to the app in name order. A callback reports user errors by throwing
// rsclip::Error (printed without a stack trace, exit 1) and a chosen status with ExitCode.
//
// Exit codes of rsclip (also in --help and the README):
//   0   done
//   1   error: a message on stderr names the file, key or sample and gives a hint
//   2   usage: unknown or missing flags (CLI11's message)
//   75  resumable (EX_TEMPFAIL): stopped by a signal or a peer rank failed; the run left a
//       checkpoint, and the same command (torchrun --max-restarts, SLURM --requeue) continues
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace rsclip::cli {

class Command {
 public:
  using Setup = std::function<void(CLI::App& cmd)>;
  Command(std::string name, Setup setup);

  struct Entry {
    std::string name;
    Setup setup;
  };
  static std::vector<Entry>& all();
};

inline constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2;

// Thrown to end the program with a specific status after a message was printed (e.g. the
// "resumable" status of a preempted training run).
struct ExitCode {
  int code;
};

// Runs `run` (the parse and the chosen command), turning every exception into a message and
// an exit code.
int run_reporting_errors(const std::function<void()>& run, CLI::App& app);

}  // namespace rsclip::cli
