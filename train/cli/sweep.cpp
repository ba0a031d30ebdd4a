// rsclip sweep FILE [--dry-run] [--report-only] [--jobs N] [--gpus LIST]
#include "train/sweep/sweep.h"

#include <cstdio>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "train/cli/command.h"
#include "train/sweep/sweep_report.h"
#include "train/sweep/sweep_runner.h"

namespace rsclip::cli::sweep_command {

struct SweepArgs {
  std::string file;
  bool dry_run = false, report_only = false;
  int64_t jobs = 0;
  std::string gpus;
};

std::vector<std::string> parse_gpus(const std::string& list) {
  std::vector<std::string> out;
  if (list.empty()) return out;
  std::size_t start = 0;
  while (true) {
    const auto comma = list.find(',', start);
    const std::string gpu = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (gpu.empty() || gpu.find_first_of(" \t") != std::string::npos) {
      throw Error("'" + list + "' is not a GPU list", "--gpus", "e.g. --gpus 0,1 (CUDA_VISIBLE_DEVICES values)");
    }
    out.push_back(gpu);
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

void print_plan(const train::SweepConfig& c, const std::vector<train::SweepVariant>& variants,
                const std::vector<std::string>& extra) {
  std::printf("sweep %s: %zu variants -> %s\n", c.name.c_str(), variants.size(), c.dir().string().c_str());
  for (const auto& v : variants) {
    const bool done = train::run_finished(c.runs_dir() / v.name);
    std::printf("\n%s%s\n  %s\n", v.name.c_str(), done ? "  [finished: skipped]" : "",
                train::shell_join(train::train_argv(c, v, extra, "rsclip")).c_str());
  }
}

const Command reg("sweep", [](CLI::App& cmd) {
  cmd.description(
      "Run an ablation sweep (configs/sweeps/*.yaml): one `rsclip train` per variant of a base config, N at a "
      "time, into OUTPUT_DIR/NAME/runs/; then results.csv, results.md and plots/. Rerunning skips finished "
      "variants and resumes interrupted ones. Exit status: 0 all finished, 1 some failed (the table lists them), "
      "75 interrupted by SIGINT/SIGTERM (forwarded to the trainers, which checkpoint): run it again to continue.");
  auto a = std::make_shared<SweepArgs>();
  cmd.add_option("file", a->file, "sweep .yaml")->required()->check(CLI::ExistingFile);
  cmd.add_flag("--dry-run", a->dry_run, "print the variants and their training commands, run nothing");
  cmd.add_flag("--report-only", a->report_only, "rebuild results.csv, results.md and plots/ from the runs");
  cmd.add_option("--jobs", a->jobs, "variants at a time (default: the file's `jobs`, or one per GPU)")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--gpus", a->gpus, "comma-separated GPUs (CUDA_VISIBLE_DEVICES values); each job gets one");
  cmd.callback([a] {
    const auto config = train::load_sweep_config(a->file);
    const auto variants = train::expand_sweep(config);
    const train::SweepRunOptions options{a->jobs, parse_gpus(a->gpus), {}};
    const auto extra = train::sweep_extra_overrides(options);
    train::validate_variants(config, variants, extra);
    if (a->dry_run) return print_plan(config, variants, extra);

    const int status = a->report_only ? 0 : train::run_sweep(config, variants, options);
    const auto files = train::write_sweep_report(config, variants);
    std::printf("%s\n", read_file(files.markdown).c_str());
    std::printf("tables: %s%s%s, %s\nplots:  %s\n", files.csv.string().c_str(), files.seeds_csv.empty() ? "" : ", ",
                files.seeds_csv.string().c_str(), files.markdown.string().c_str(),
                (config.dir() / "plots").string().c_str());
    if (status != 0) throw ExitCode{status};
  });
});

}  // namespace rsclip::cli::sweep_command
