// Live progress of a training run: on a terminal one redrawn status line (step, epoch,
// loss, lr, samples/s, data-wait %, ETA); elsewhere (CI, SLURM logs) a plain log line every
// `every` steps. Messages printed through it do not tear the bar.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace rsclip::train {

struct ProgressSample {
  int64_t step = 0, total_steps = 0, epoch = 0;
  double loss = 0, lr = 0, samples_per_s = 0, data_wait = 0;  // data_wait: fraction of step time
  double eta_s = 0;
};

class Progress {
 public:
  // mode: auto | bar | lines | off.
  Progress(const std::string& mode, int64_t every);
  ~Progress();
  void update(const ProgressSample& s);
  void message(const std::string& line);  // a log line that keeps the bar intact
  void finish();

 private:
  void clear_bar();
  bool bar_ = false, lines_ = false, drawn_ = false;
  int64_t every_;
};

std::string format_duration(double seconds);  // "1h02m", "3m05s", "12s"

}  // namespace rsclip::train
