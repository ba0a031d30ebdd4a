#include "train/sweep/sweep_status.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace rsclip::train {
namespace fs = std::filesystem;

SweepStatusFile::SweepStatusFile(fs::path path)
    : path_(std::move(path)), json_({{"variants", nlohmann::json::object()}}) {
  if (!fs::exists(path_)) return;
  try {
    json_ = nlohmann::json::parse(read_file(path_));
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("invalid JSON: ") + e.what(), path_.string(),
                "it is rewritten by every sweep; delete it to forget recorded failures");
  }
  if (!json_.is_object() || !json_.contains("variants") || !json_["variants"].is_object()) {
    throw Error("expected {\"variants\": {...}}", path_.string());
  }
}

std::optional<VariantStatus> SweepStatusFile::find(const std::string& variant) const {
  const auto& v = json_["variants"];
  if (!v.contains(variant)) return std::nullopt;
  const auto& e = v[variant];
  return VariantStatus{e.value("status", std::string()), e.value("exit_code", 0), e.value("error", std::string()),
                       e.value("log", std::string()), e.value("attempt_seconds", 0.0)};
}

void SweepStatusFile::set(const std::string& variant, const VariantStatus& s) {
  json_["variants"][variant] = {{"status", s.status},
                                {"exit_code", s.exit_code},
                                {"error", s.error},
                                {"log", s.log},
                                {"attempt_seconds", s.attempt_seconds}};
  write_file_atomic(path_, json_.dump(2) + "\n");
}

std::string last_error_line(const fs::path& log) {
  std::ifstream in(log, std::ios::binary);
  if (!in) return "";
  // Only the tail matters and a training log can be long.
  constexpr std::streamoff kTail = 64 * 1024;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - kTail));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string error, last;
  for (std::string line; std::getline(buffer, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos || line.rfind("===== ", 0) == 0) continue;  // sweep headers
    last = line;
    if (line.rfind("error: ", 0) == 0)
      error = line.substr(7);
    else if (line.rfind("internal error", 0) == 0 || line.find("terminate called") != std::string::npos)
      error = line;
  }
  std::string out = error.empty() ? last : error;
  if (out.size() > 300) out = out.substr(0, 297) + "...";
  return out;
}

}  // namespace rsclip::train
