// The rsclip command line: the subcommands registered by train/cli/*.cpp (see command.h).
#include <cstdio>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <functional>
#include <new>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "core/base/error.h"
#include "core/base/log.h"
#include "train/cli/command.h"

namespace rsclip::cli {

Command::Command(std::string name, Setup setup) { all().push_back({std::move(name), std::move(setup)}); }

std::vector<Command::Entry>& Command::all() {
  static std::vector<Entry> commands;
  return commands;
}

// Every failure becomes a message on stderr and one of the documented exit codes (command.h):
// nothing escapes to std::terminate.
int run_reporting_errors(const std::function<void()>& run, CLI::App& app) {
  try {
    run();
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, the version, or the usage error
    return code == 0 ? kExitOk : kExitUsage;
  } catch (const ExitCode& e) {
    return e.code;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    std::fprintf(stderr, "error: %s\nhint: check that the path exists, is writable and the disk is not full\n",
                 e.what());
  } catch (const nlohmann::json::exception& e) {
    std::fprintf(stderr, "error: malformed JSON: %s\n", e.what());
  } catch (const YAML::Exception& e) {
    std::fprintf(stderr, "error: malformed YAML: %s\n", e.what());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\nhint: use a smaller batch_size, fewer workers or a smaller model\n");
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "internal error (please report): %s\n", e.what_without_backtrace());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "error: an unknown exception\n");
  }
  return kExitError;
}

}  // namespace rsclip::cli

int main(int argc, char** argv) {
  using rsclip::cli::Command;
  // Past a file-size limit (ulimit -f) a write then fails with EFBIG and is reported naming
  // the file, instead of SIGXFSZ ending the process without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"rsclip: fine-tune and evaluate CLIP models on remote-sensing image-text data"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "rsclip 0.1.0");
  app.footer(
      "Exit codes: 0 done; 1 error (the message names the file or key and gives a hint); 2 usage; 75 resumable "
      "(stopped by a signal, or a peer rank failed: the run checkpointed, rerun the same command to continue).");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn, error or off")->capture_default_str();
  app.parse_complete_callback([&] { rsclip::log::set_level(log_level); });

  auto commands = Command::all();
  std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& c : commands) {
    // "bench encode" registers `encode` under a shared `bench` group.
    const auto space = c.name.find(' ');
    if (space == std::string::npos) {
      c.setup(*app.add_subcommand(c.name));
      continue;
    }
    const std::string group = c.name.substr(0, space);
    CLI::App* parent = nullptr;
    for (auto* sub : app.get_subcommands([&](CLI::App* s) { return s->get_name() == group; })) parent = sub;
    if (!parent) {
      parent = app.add_subcommand(group, group == "bench" ? "benchmarks (print ratios against the Python reference "
                                                            "via scripts/bench_*.sh)"
                                                          : "");
      parent->require_subcommand(1);
    }
    c.setup(*parent->add_subcommand(c.name.substr(space + 1)));
  }

  return rsclip::cli::run_reporting_errors([&] { app.parse(argc, argv); }, app);
}
