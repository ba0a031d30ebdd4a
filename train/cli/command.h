// Subcommands register themselves: each train/cli/<name>.cpp holds
//
//   static const rsclip::cli::Command reg("info", [](CLI::App& cmd) {
//     cmd.description("...");  cmd.add_option(...);  cmd.callback([&] { ... });
//   });
//
// main.cpp adds them to the app in name order. A callback reports user errors by throwing
// rsclip::Error (printed without a stack trace, exit 1) and a chosen status with ExitCode.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

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

// Thrown to end the program with a specific status after a message was printed (e.g. the
// "resumable" status of a preempted training run).
struct ExitCode {
  int code;
};

}  // namespace rsclip::cli
