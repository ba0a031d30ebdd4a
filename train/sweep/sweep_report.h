// A sweep's results, rebuilt from its directory (so `--report-only` and an interrupted sweep
// give the same table as a finished one):
//
//   results.csv  one row per variant: variant, status, the varied keys' values,
//                trainable_params, total_params, seconds, final_loss, each metric, error
//   results_seeds.csv  with a seed axis: one row per group of variants differing only in
//                the seed: group, seeds, finished, the other keys' values, and <column>_mean,
//                <column>_std for trainable_params, seconds, final_loss and each metric
//   (one row kind per file, so pandas and spreadsheets read them as they are)
//   results.md   the same as Markdown tables (mean ± std in one cell), failures listed
//   plots/<metric>.png   bar per variant (with seeds: per group, one bar per seed)
//   plots/loss_curves.png  every variant's training loss from its metrics.jsonl
//
// Each variant's numbers come from runs/<variant>/summary.json (the trainer's final
// evaluation); failures and interruptions from status.json (train/sweep/sweep_status.h).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "train/sweep/sweep.h"

namespace rsclip::train {

struct SweepResult {
  std::string status;  // finished | failed | interrupted | pending
  std::optional<double> trainable_params, total_params, seconds, final_loss;
  std::vector<std::optional<double>> metrics;  // in the order of config.metrics
  std::string error;                           // failed: the log's last error line
};

std::vector<SweepResult> collect_sweep_results(const SweepConfig& config, const std::vector<SweepVariant>& variants);

struct SweepReportFiles {
  std::filesystem::path csv, markdown;
  std::filesystem::path seeds_csv;  // empty without a seed axis
  std::vector<std::filesystem::path> plots;
};

SweepReportFiles write_sweep_report(const SweepConfig& config, const std::vector<SweepVariant>& variants);

}  // namespace rsclip::train
