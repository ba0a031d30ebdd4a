// PNG charts drawn with OpenCV (no Python at run time): line charts for training curves and
// grouped bar charts for before/after or per-variant metrics. Used by `rsclip plot`, the demo
// and sweeps.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rsclip::train {

struct Series {
  std::string name;
  std::vector<double> x, y;
};

struct ChartLabels {
  std::string title, x_label, y_label;
  bool log_y = false;
};

// Line chart of one or more series (non-finite points skipped) with axes, ticks and a legend.
void plot_lines(const std::filesystem::path& png, const std::vector<Series>& series, const ChartLabels& labels);

struct BarGroup {
  std::string name;            // legend entry, e.g. "before", "after"
  std::vector<double> values;  // one per category
};

// Grouped bar chart: categories along x, one bar per group in each category, values printed.
void plot_bars(const std::filesystem::path& png, const std::vector<std::string>& categories,
               const std::vector<BarGroup>& groups, const ChartLabels& labels);

// The chart a metrics.jsonl key is drawn in, by what it is: "loss" (`loss` and the loss terms
// `<term>_loss`), "lr", "throughput" (samples_per_s), "waits" (the seconds per second spent
// waiting: `*_wait`), "eval" (the headline eval/.../top1 and eval/.../mR); "" for none.
std::string chart_of(const std::string& key);

// Draws runs/NAME/plots/{loss,lr,throughput,waits,eval}.png from runs/NAME/metrics.jsonl;
// returns the files written.
std::vector<std::filesystem::path> plot_run(const std::filesystem::path& run_dir);

}  // namespace rsclip::train
