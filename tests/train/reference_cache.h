// Reference dumps shared by the test cases of one file. CTest runs every case in its own
// process, so a dump is written once under <build>/test-cache/, named by a hash of the
// script's text (an edited script writes a new one), and renamed into place so parallel
// cases never read half a file.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <unistd.h>

#include "tests/reference/test_support.h"

namespace rsclip::testing {

// Runs `python script [what] PATH` once and returns PATH.
inline std::filesystem::path cached_reference(const std::string& script, const std::string& what,
                                              const std::string& extension) {
  std::ifstream in(source_dir() / script, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const auto hash = std::hash<std::string>{}(text.str());
  const auto dir = std::filesystem::path(RSCLIP_BINARY_DIR) / "test-cache";
  std::filesystem::create_directories(dir);
  const auto stem = std::filesystem::path(script).stem().string() + "-" + (what.empty() ? "all" : what);
  const auto path = dir / (stem + "-" + std::to_string(hash) + extension);
  if (std::filesystem::exists(path)) return path;
  const auto tmp = dir / (stem + ".tmp" + std::to_string(::getpid()) + extension);
  std::vector<std::string> args;
  if (!what.empty()) args.push_back(what);
  args.push_back(tmp.string());
  run_python(script, args);
  std::filesystem::rename(tmp, path);
  return path;
}

}  // namespace rsclip::testing
