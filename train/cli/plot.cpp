// rsclip plot RUN_DIR: training curves from metrics.jsonl to RUN_DIR/plots/*.png.
#include "train/report/plot.h"

#include <cstdio>

#include "train/cli/command.h"

namespace rsclip::cli::plot_command {

const Command reg("plot", [](CLI::App& cmd) {
  cmd.description("Draw loss / lr / throughput / eval curves of a run to RUN_DIR/plots/*.png");
  auto run_dir = std::make_shared<std::string>();
  cmd.add_option("run_dir", *run_dir, "run directory (holds metrics.jsonl)")->required();
  cmd.callback([run_dir] {
    for (const auto& png : train::plot_run(*run_dir)) std::printf("%s\n", png.c_str());
  });
});

}  // namespace rsclip::cli::plot_command
