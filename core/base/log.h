// Logging: one line per event on stderr, "[HH:MM:SS I] message", formatted with fmt.
// In distributed runs only rank 0 prints info; other ranks keep warnings and errors.
// (spdlog from Debian is built for fmt 9 and cannot sit beside the wheel's fmt 12.)
#pragma once

#include <string>
#include <utility>

#include <fmt/format.h>

namespace rsclip::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// Level by name: "debug", "info", "warn", "error" or "off"; rsclip::Error otherwise.
void set_level(const std::string& name);
void set_level(Level level);
Level level();

// Ranks other than 0 print only warnings and errors, tagged with their rank.
void set_rank(int rank);

void write(Level level, const std::string& message);

template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::debug) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::info) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::warn) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::error) write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace rsclip::log
