// A training run's directory (../shared/ARCHITECTURE.md):
//   runs/NAME/config.yaml      resolved config (written at start)
//   runs/NAME/metrics.jsonl    one JSON object per logged step / evaluation, appended
//   runs/NAME/checkpoints/     step_NNNNNNNN/ directories (train/checkpoint_store.h)
//   runs/NAME/eval/            evaluation results (JSON)
//   runs/NAME/plots/           PNG curves (rsclip plot)
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace rsclip::train {

class RunDir {
 public:
  explicit RunDir(std::filesystem::path root);  // creates the sub-directories
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path config() const { return root_ / "config.yaml"; }
  std::filesystem::path metrics() const { return root_ / "metrics.jsonl"; }
  std::filesystem::path checkpoints() const { return root_ / "checkpoints"; }
  std::filesystem::path eval() const { return root_ / "eval"; }
  std::filesystem::path plots() const { return root_ / "plots"; }

 private:
  std::filesystem::path root_;
};

// Appends JSON lines to metrics.jsonl, flushed per line so a killed run keeps what it logged.
// On resume, records after the resumed step are dropped first (truncate_after) so the file
// reads like one uninterrupted run.
class MetricsLog {
 public:
  explicit MetricsLog(std::filesystem::path path);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const nlohmann::json& record);
  // Keeps only records whose "step" <= step (rewrites the file atomically).
  static void truncate_after(const std::filesystem::path& path, int64_t step);
  static std::vector<nlohmann::json> read(const std::filesystem::path& path);

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

}  // namespace rsclip::train
