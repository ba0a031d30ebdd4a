// The process's peak resident set size (VmHWM of /proc/self/status) in MiB, for the
// benchmarks' memory columns; -1 where /proc is not available.
#pragma once

#include <fstream>
#include <string>

namespace rsclip::cli {

inline double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  }
  return -1;
}

}  // namespace rsclip::cli
