// Reference outputs of the Python stack that depend only on a generator script (and the
// scripts it imports) and the venv are generated once per build tree and kept under
// <build>/test-cache, keyed by a hash of those files and the venv's path, so that each
// ctest process (one per test case) does not regenerate them.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/reference/test_support.h"

namespace rsclip::testing {

// Runs `python script OUT` unless a cached OUT for the same inputs exists; returns OUT.
// `inputs`: repository-relative files whose content the output depends on (the script
// first). `suffix` is appended to the cache name (".safetensors", or "" for a directory).
inline std::filesystem::path cached_reference(const std::vector<std::string>& inputs, const std::string& suffix) {
  namespace fs = std::filesystem;
  std::stringstream content;
  for (const auto& f : inputs) content << std::ifstream(source_dir() / f).rdbuf();
  content << fs::weakly_canonical(RSCLIP_PYTHON).string();
  const std::size_t key = std::hash<std::string>{}(content.str());
  const fs::path dir = fs::path(RSCLIP_BINARY_DIR) / "test-cache";
  fs::create_directories(dir);
  const fs::path out = dir / (fs::path(inputs.front()).stem().string() + "_" + std::to_string(key) + suffix);
  if (fs::exists(out)) return out;
  // Test cases run as parallel processes: one generates, the others wait for it.
  const int lock = ::open((out.string() + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
  if (lock >= 0) ::flock(lock, LOCK_EX);
  if (!fs::exists(out)) {
    const fs::path tmp = out.string() + ".tmp" + std::to_string(::getpid());
    fs::remove_all(tmp);
    run_python(inputs.front(), {tmp.string()});
    fs::rename(tmp, out);
  }
  if (lock >= 0) ::close(lock);  // releases the lock
  return out;
}

}  // namespace rsclip::testing
