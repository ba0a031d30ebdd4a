#include "core/base/log.h"

#include <cstdio>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>

#include <fmt/format.h>

#include "core/base/error.h"

namespace rsclip::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<int> g_rank{-1};
std::mutex g_mutex;

}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }

void set_level(const std::string& name) {
  static const std::pair<const char*, Level> names[] = {{"debug", Level::debug},
                                                        {"info", Level::info},
                                                        {"warn", Level::warn},
                                                        {"error", Level::error},
                                                        {"off", Level::off}};
  for (const auto& [n, l] : names) {
    if (name == n) return set_level(l);
  }
  throw Error("unknown log level '" + name + "'", "log level", "use debug, info, warn, error or off");
}

void set_rank(int rank) {
  g_rank = rank;
  if (rank > 0 && g_level < Level::warn) g_level = Level::warn;
}

void write(Level level, const std::string& message) {
  static constexpr char tags[] = {'D', 'I', 'W', 'E'};
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::localtime_r(&now, &tm);
  const int rank = g_rank;
  const std::string rank_tag = rank >= 0 ? fmt::format(" rank{}", rank) : "";
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "[%02d:%02d:%02d %c%s] %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, tags[static_cast<int>(level)],
               rank_tag.c_str(), message.c_str());
  std::fflush(stderr);
}

}  // namespace rsclip::log
