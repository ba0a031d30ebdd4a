#include "train/report/run_dir.h"

#include <fstream>
#include <sstream>

#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace rsclip::train {
namespace fs = std::filesystem;

RunDir::RunDir(fs::path root) : root_(std::move(root)) {
  std::error_code ec;
  for (const auto& d : {root_, checkpoints(), eval(), plots()}) {
    fs::create_directories(d, ec);
    if (ec) throw Error("cannot create run directory: " + ec.message(), d.string());
  }
}

MetricsLog::MetricsLog(fs::path path) : path_(std::move(path)) {
  records_ = static_cast<int64_t>(read(path_).size());
  file_ = std::fopen(path_.c_str(), "a");
  if (!file_) throw Error("cannot open for appending", path_.string());
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    throw Error("write failed (disk full?)", path_.string());
  }
  ++records_;
}

std::vector<nlohmann::json> MetricsLog::read(const fs::path& path) {
  std::vector<nlohmann::json> records;
  if (!fs::exists(path)) return records;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    // A run killed mid-write leaves a torn line; appending after it (an older rsclip did)
    // can put it mid-file. Skip it: the resumed run rewrites the file without it.
    auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object()) records.push_back(std::move(record));
  }
  return records;
}

void MetricsLog::keep_first(const fs::path& path, int64_t count) {
  if (!fs::exists(path)) return;
  std::string kept;
  int64_t n = 0;
  for (const auto& r : read(path)) {
    if (n++ >= count) break;
    kept += r.dump() + "\n";
  }
  write_file_atomic(path, kept);
}

void MetricsLog::truncate_after(const fs::path& path, int64_t step) {
  if (!fs::exists(path)) return;
  std::string kept;
  for (const auto& r : read(path)) {
    if (!r.contains("step") || r["step"].get<int64_t>() <= step) kept += r.dump() + "\n";
  }
  write_file_atomic(path, kept);
}

}  // namespace rsclip::train
