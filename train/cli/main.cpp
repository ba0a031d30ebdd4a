// The rsclip command line: one subcommand per file in train/cli/, registered here.
#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/log.h"

int main(int argc, char** argv) {
  CLI::App app{"rsclip: fine-tune and evaluate CLIP models on remote-sensing image-text data"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "rsclip 0.1.0");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn or error");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
