// rsclip bench train: training throughput and peak memory of the real trainer (loader,
// forward, loss, backward, optimiser) on a config's data for --steps steps. Prints one JSON
// line; scripts/bench_train.sh runs it beside open_clip_train on the same data and prints
// the ratios.
//   samples_per_s   global samples per second over the steps after --warmup-steps
//   peak_rss_mib    the process's VmHWM
//   cuda_peak_mib   peak allocated CUDA memory (CUDA runs)
#include <cstdio>

#if __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define RSCLIP_HAS_CUDA_ALLOCATOR 1
#endif

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "train/bench/peak_rss.h"
#include "train/cli/command.h"
#include "train/loop/train_config.h"
#include "train/loop/trainer.h"
#include "train/report/run_dir.h"

namespace rsclip::cli::bench_train_command {
namespace fs = std::filesystem;

double cuda_peak_mib() {
#ifdef RSCLIP_HAS_CUDA_ALLOCATOR
  if (torch::cuda::is_available()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
    return static_cast<double>(
               stats.allocated_bytes[static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak) /
           (1 << 20);
  }
#endif
  return 0;
}

struct BenchTrainArgs {
  std::string config;
  std::vector<std::string> overrides;
  int64_t steps = 20, warmup_steps = 3;
  std::string work;
};

void run(const BenchTrainArgs& a) {
  if (a.steps <= a.warmup_steps + 1) throw Error("--steps must exceed --warmup-steps + 1", "bench train");
  const fs::path work = a.work.empty()
                            ? fs::temp_directory_path() / ("rsclip-bench-train-" + std::to_string(::getpid()))
                            : fs::path(a.work);
  auto sets = a.overrides;
  sets.insert(sets.end(),
              {"output_dir=" + work.string(), "name=bench", "schedule.max_steps=" + std::to_string(a.steps),
               "logging.every_steps=1", "logging.progress=off", "checkpoint.every_steps=0",
               "checkpoint.at_epoch_end=false", "eval.zeroshot=[]", "eval.retrieval=[]", "eval.best_metric="});
  const auto cfg = train::load_train_config(a.config, sets);
  fs::remove_all(work / "bench");
  const int status = train::run_training(cfg, {.resume = "never"});
  if (status != 0) throw ExitCode{status};
  std::vector<nlohmann::json> steps;
  for (const auto& r : train::MetricsLog::read(work / "bench" / "metrics.jsonl")) {
    if (r.contains("loss")) steps.push_back(r);
  }
  const auto& first = steps.at(static_cast<std::size_t>(a.warmup_steps - 1 >= 0 ? a.warmup_steps - 1 : 0));
  const auto& last = steps.back();
  const double seconds = last["time"].get<double>() - (a.warmup_steps > 0 ? first["time"].get<double>() : 0.0);
  const double samples = last["samples"].get<double>() - (a.warmup_steps > 0 ? first["samples"].get<double>() : 0.0);
  const auto summary = nlohmann::json::parse(read_file(work / "bench" / "summary.json"));
  nlohmann::json out = {{"model", cfg.model.name},
                        {"batch", cfg.data.batch_size * cfg.optim.accum_freq},
                        {"precision", cfg.precision.mode},
                        {"grad_checkpointing", cfg.model.grad_checkpointing},
                        {"peft", cfg.peft.method},
                        {"trainable_params", summary["trainable_params"]},
                        {"steps_timed", a.steps - a.warmup_steps},
                        {"samples_per_s", samples / seconds},
                        {"step_s", seconds / static_cast<double>(a.steps - a.warmup_steps)},
                        {"peak_rss_mib", peak_rss_mib()},
                        {"cuda_peak_mib", cuda_peak_mib()},
                        {"threads", torch::get_num_threads()}};
  std::printf("%s\n", out.dump().c_str());
  if (a.work.empty()) fs::remove_all(work);
}

const Command reg("bench train", [](CLI::App& cmd) {
  cmd.description("Training throughput and peak memory of `rsclip train` on a config's data (JSON line)");
  auto a = std::make_shared<BenchTrainArgs>();
  cmd.add_option("--config", a->config, "training config .yaml")->required()->check(CLI::ExistingFile);
  cmd.add_option("--set", a->overrides, "override a config key (repeatable)");
  cmd.add_option("--steps", a->steps, "optimiser steps to run")->capture_default_str();
  cmd.add_option("--warmup-steps", a->warmup_steps, "steps excluded from the timing")->capture_default_str();
  cmd.add_option("--work", a->work, "run directory parent (default: a temporary one, removed after)");
  cmd.callback([a] { run(*a); });
});

}  // namespace rsclip::cli::bench_train_command
