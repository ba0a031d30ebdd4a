// The rsclip command line: the subcommands registered by train/cli/*.cpp (see command.h).
#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "core/log.h"
#include "train/cli/command.h"

namespace rsclip::cli {

Command::Command(std::string name, Setup setup) { all().push_back({std::move(name), std::move(setup)}); }

std::vector<Command::Entry>& Command::all() {
  static std::vector<Entry> commands;
  return commands;
}

}  // namespace rsclip::cli

int main(int argc, char** argv) {
  using rsclip::cli::Command;
  CLI::App app{"rsclip: fine-tune and evaluate CLIP models on remote-sensing image-text data"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "rsclip 0.1.0");
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const rsclip::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const rsclip::cli::ExitCode& e) {
    return e.code;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "internal error (please report): %s\n", e.what_without_backtrace());
    return 2;
  }
  return 0;
}
