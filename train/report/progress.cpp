#include "train/report/progress.h"

#include <cstdio>

#include <unistd.h>

#include <cmath>

#include <fmt/format.h>

#include "core/base/log.h"

namespace rsclip::train {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02d}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02d}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

Progress::Progress(const std::string& mode, int64_t every) : every_(std::max<int64_t>(1, every)) {
  const bool tty = ::isatty(STDERR_FILENO);
  bar_ = mode == "bar" || (mode == "auto" && tty);
  lines_ = mode == "lines" || (mode == "auto" && !tty);
}

Progress::~Progress() { finish(); }

void Progress::clear_bar() {
  if (drawn_) {
    std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }
}

void Progress::update(const ProgressSample& s) {
  const std::string text =
      fmt::format("step {}/{} ep {} | loss {:.4f} | lr {:.3e} | {:.1f} samples/s | data wait {:.1f}% | ETA {}", s.step,
                  s.total_steps, s.epoch, s.loss, s.lr, s.samples_per_s, 100 * s.data_wait, format_duration(s.eta_s));
  if (bar_) {
    const double frac = s.total_steps > 0 ? std::min(1.0, static_cast<double>(s.step) / s.total_steps) : 0.0;
    const int width = 24, filled = static_cast<int>(frac * width);
    std::fprintf(stderr, "\r\033[K[%s%s] %3.0f%% %s", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), 100 * frac, text.c_str());
    std::fflush(stderr);
    drawn_ = true;
  } else if (lines_ && (s.step % every_ == 0 || s.step == s.total_steps)) {
    log::info("{}", text);
  }
}

void Progress::message(const std::string& line) {
  clear_bar();
  log::info("{}", line);
}

void Progress::finish() {
  if (drawn_) {
    std::fprintf(stderr, "\n");
    drawn_ = false;
  }
}

}  // namespace rsclip::train
