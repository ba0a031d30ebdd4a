// A training run's directory (docs/architecture.md, "Run directory"):
//   runs/NAME/config.yaml      resolved config (written at start)
//   runs/NAME/metrics.jsonl    one JSON object per logged step / evaluation, appended
//   runs/NAME/checkpoints/     step_NNNNNNNN/ directories (train/loop/checkpoint_store.h)
//   runs/NAME/eval/            evaluation results (JSON)
//   runs/NAME/plots/           PNG curves (rsclip plot)
#pragma once

#include <cstdio>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
// A checkpoint records how many records the file held when it was written; a resumed run
// first keeps exactly those (keep_first), and a run restarted before its first checkpoint
// keeps none, so the file reads like one uninterrupted run: every step once. A line torn by
// a kill is skipped when reading and dropped by that rewrite.
class MetricsLog {
 public:
  explicit MetricsLog(std::filesystem::path path);  // counts the records already there
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const nlohmann::json& record);
  int64_t records() const { return records_; }  // complete records in the file
  // Keeps the first `count` complete records (rewrites the file atomically).
  static void keep_first(const std::filesystem::path& path, int64_t count);
  // Keeps only records whose "step" <= step (for checkpoints that predate record counts).
  static void truncate_after(const std::filesystem::path& path, int64_t step);
  // The complete records; torn or otherwise unparsable lines are skipped.
  static std::vector<nlohmann::json> read(const std::filesystem::path& path);

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  int64_t records_ = 0;
};

}  // namespace rsclip::train
