// <sweep>/status.json: what the runner learnt about each variant that a run directory cannot
// tell (a failure's exit status and error line, an interruption). The report reads it back;
// a finished run's own summary.json always wins over it.
//
//   {"variants": {"method=lora_seed=0": {"status": "failed", "exit_code": 1,
//                  "error": "init.checkpoint: file not found", "log": "logs/method=lora_seed=0.log",
//                  "attempt_seconds": 1.7}}}
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace rsclip::train {

struct VariantStatus {
  std::string status;  // finished | failed | interrupted
  int exit_code = 0;
  std::string error;  // failed: the last error line of the log
  std::string log;    // relative to the sweep directory
  double attempt_seconds = 0;
};

class SweepStatusFile {
 public:
  explicit SweepStatusFile(std::filesystem::path path);  // loads it if it exists
  // nullopt when the variant has no entry.
  std::optional<VariantStatus> find(const std::string& variant) const;
  // Records and writes the file atomically.
  void set(const std::string& variant, const VariantStatus& status);

 private:
  std::filesystem::path path_;
  nlohmann::json json_;
};

// The last line of a child's log that reports an error ("error: ..." as printed by the CLI,
// "internal error ..."), else its last non-empty line; at most 300 characters.
std::string last_error_line(const std::filesystem::path& log);

}  // namespace rsclip::train
