#include "train/report/plot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "core/base/error.h"
#include "data/image/image_encode.h"
#include "train/report/run_dir.h"

namespace rsclip::train {
namespace fs = std::filesystem;
namespace {

constexpr int kWidth = 960, kHeight = 600, kLeft = 90, kRight = 200, kTop = 50, kBottom = 70;
const cv::Scalar kBlack(30, 30, 30), kGrid(225, 225, 225), kWhite(255, 255, 255);
// A colour-blind-safe palette (Okabe-Ito), in BGR.
const std::vector<cv::Scalar> kColours = {{178, 114, 0},  {0, 94, 213},   {115, 158, 0}, {167, 121, 204},
                                          {66, 228, 240}, {233, 180, 86}, {0, 159, 230}, {0, 0, 0}};

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale = 0.5, int thickness = 1,
          cv::Scalar colour = kBlack) {
  cv::putText(img, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv::LINE_AA);
}

int text_width(const std::string& s, double scale = 0.5) {
  int base = 0;
  return cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base).width;
}

// Shortens to `max` characters with a trailing '~'.
std::string clip(std::string s, std::size_t max) {
  if (s.size() > max) {
    s.resize(max - 1);
    s.push_back('~');
  }
  return s;
}

std::string tick_label(double v) {
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e4 || a < 1e-2) return fmt::format("{:.1e}", v);
  if (a >= 100) return fmt::format("{:.0f}", v);
  if (a >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.3g}", v);
}

// ~`count` round tick values covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int count) {
  const double span = hi - lo;
  const double raw = span / count;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(t);
  return ticks;
}

struct Frame {
  double x0, x1, y0, y1;
  bool log_y;
  cv::Point map(double x, double y) const {
    const double fy = log_y ? (std::log10(y) - y0) / (y1 - y0) : (y - y0) / (y1 - y0);
    const double fx = (x - x0) / (x1 - x0);
    return {kLeft + static_cast<int>(fx * (kWidth - kLeft - kRight)),
            kHeight - kBottom - static_cast<int>(fy * (kHeight - kTop - kBottom))};
  }
};

void draw_frame(cv::Mat& img, const Frame& f, const ChartLabels& labels, bool x_ticks) {
  const int plot_right = kWidth - kRight, plot_bottom = kHeight - kBottom;
  for (double t : nice_ticks(f.y0, f.y1, 6)) {
    const int y = f.map(f.x0, f.log_y ? std::pow(10.0, t) : t).y;
    cv::line(img, {kLeft, y}, {plot_right, y}, kGrid, 1);
    const std::string s = f.log_y ? tick_label(std::pow(10.0, t)) : tick_label(t);
    text(img, s, {kLeft - 8 - text_width(s, 0.45), y + 5}, 0.45);
  }
  if (x_ticks) {
    for (double t : nice_ticks(f.x0, f.x1, 8)) {
      const int x = f.map(t, f.log_y ? std::pow(10.0, f.y0) : f.y0).x;
      cv::line(img, {x, plot_bottom}, {x, plot_bottom + 5}, kBlack, 1);
      const std::string s = tick_label(t);
      text(img, s, {x - text_width(s, 0.45) / 2, plot_bottom + 22}, 0.45);
    }
  }
  cv::rectangle(img, {kLeft, kTop}, {plot_right, plot_bottom}, kBlack, 1);
  text(img, labels.title, {kLeft, kTop - 18}, 0.7, 2);
  text(img, labels.x_label, {kLeft + (plot_right - kLeft - text_width(labels.x_label)) / 2, kHeight - 20});
  text(img, labels.y_label, {10, kTop - 18 + 0}, 0.5);
}

void legend(cv::Mat& img, const std::vector<std::string>& names) {
  int y = kTop + 10;
  for (std::size_t i = 0; i < names.size(); ++i, y += 24) {
    const auto colour = kColours[i % kColours.size()];
    cv::rectangle(img, {kWidth - kRight + 15, y - 10}, {kWidth - kRight + 35, y + 2}, colour, cv::FILLED);
    text(img, clip(names[i], 22), {kWidth - kRight + 42, y + 1}, 0.45);
  }
}

void save(const fs::path& png, const cv::Mat& img) {
  if (png.has_parent_path()) fs::create_directories(png.parent_path());
  data::write_png(png, img);
}

}  // namespace

void plot_lines(const fs::path& png, const std::vector<Series>& series, const ChartLabels& labels) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series) {
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (labels.log_y && s.y[i] <= 0)) continue;
      const double y = labels.log_y ? std::log10(s.y[i]) : s.y[i];
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  cv::Mat img(kHeight, kWidth, CV_8UC3, kWhite);
  if (!std::isfinite(x0)) {
    text(img, labels.title + ": no data", {kLeft, kHeight / 2}, 0.7, 2);
    return save(png, img);
  }
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  const double pad = 0.05 * (y1 - y0);
  Frame f{x0, x1, y0 - pad, y1 + pad, labels.log_y};
  draw_frame(img, f, labels, true);
  std::vector<std::string> names;
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    names.push_back(s.name);
    std::vector<cv::Point> pts;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && (!labels.log_y || s.y[i] > 0))
        pts.push_back(f.map(s.x[i], s.y[i]));
    }
    const auto colour = kColours[k % kColours.size()];
    if (pts.size() == 1) cv::circle(img, pts[0], 4, colour, cv::FILLED, cv::LINE_AA);
    if (pts.size() > 1) cv::polylines(img, pts, false, colour, 2, cv::LINE_AA);
    if (pts.size() <= 30) {
      for (const auto& p : pts) cv::circle(img, p, 3, colour, cv::FILLED, cv::LINE_AA);
    }
  }
  legend(img, names);
  save(png, img);
}

void plot_bars(const fs::path& png, const std::vector<std::string>& categories, const std::vector<BarGroup>& groups,
               const ChartLabels& labels) {
  double hi = 0;
  for (const auto& g : groups) {
    for (double v : g.values) hi = std::max(hi, std::isfinite(v) ? v : 0.0);
  }
  if (hi <= 0) hi = 1;
  cv::Mat img(kHeight, kWidth, CV_8UC3, kWhite);
  Frame f{0, static_cast<double>(std::max<std::size_t>(categories.size(), 1)), 0, hi * 1.12, false};
  draw_frame(img, f, labels, false);
  const double slot = (kWidth - kLeft - kRight) / std::max<double>(categories.size(), 1);
  const double bar = slot * 0.8 / std::max<std::size_t>(groups.size(), 1);
  for (std::size_t c = 0; c < categories.size(); ++c) {
    const int cx = kLeft + static_cast<int>((c + 0.5) * slot);
    const std::string name = clip(categories[c], 14);
    text(img, name, {cx - text_width(name, 0.42) / 2, kHeight - kBottom + 20}, 0.42);
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (c >= groups[g].values.size() || !std::isfinite(groups[g].values[c])) continue;
      const double v = groups[g].values[c];
      const int x = kLeft + static_cast<int>(c * slot + slot * 0.1 + g * bar);
      const cv::Point top = f.map(0, v);
      cv::rectangle(img, {x, top.y}, {x + static_cast<int>(bar) - 2, kHeight - kBottom}, kColours[g % kColours.size()],
                    cv::FILLED);
      const std::string s = tick_label(v);
      text(img, s, {x + static_cast<int>(bar) / 2 - text_width(s, 0.38) / 2, top.y - 4}, 0.38);
    }
  }
  std::vector<std::string> names;
  for (const auto& g : groups) names.push_back(g.name);
  legend(img, names);
  save(png, img);
}

// "zeroshot/aid/top1" -> "aid top1", "retrieval/rsitmd/mR" -> "rsitmd mR".
std::string eval_series_name(const std::string& key) {
  const auto first = key.find('/'), last = key.rfind('/');
  if (first == std::string::npos || first == last) return key;
  return key.substr(first + 1, last - first - 1) + " " + key.substr(last + 1);
}

std::string chart_of(const std::string& k) {
  if (k.rfind("eval/", 0) == 0) return k.ends_with("/top1") || k.ends_with("/mR") ? "eval" : "";
  if (k == "loss" || k.ends_with("_loss")) return "loss";
  if (k == "lr" || k.rfind("lr/", 0) == 0) return "lr";
  if (k == "samples_per_s") return "throughput";
  if (k.ends_with("_wait")) return "waits";
  return "";
}

std::vector<fs::path> plot_run(const fs::path& run_dir) {
  const auto records = MetricsLog::read(run_dir / "metrics.jsonl");
  if (records.empty())
    throw Error("no metrics to plot", (run_dir / "metrics.jsonl").string(), "is this a run directory?");
  // Group numeric keys by chart: losses, learning rate, throughput, evaluation metrics.
  std::map<std::string, std::map<std::string, Series>> charts;
  for (const auto& r : records) {
    if (!r.contains("step")) continue;
    const double step = r["step"].get<double>();
    for (auto it = r.begin(); it != r.end(); ++it) {
      if (!it->is_number() || it.key() == "step" || it.key() == "epoch") continue;
      const std::string& k = it.key();
      const std::string chart = chart_of(k);
      if (chart.empty()) continue;
      const bool eval = chart == "eval";
      auto& s = charts[chart][k];
      s.name = eval ? eval_series_name(k.substr(5)) : k;
      s.x.push_back(step);
      s.y.push_back(it->get<double>());
    }
  }
  std::vector<fs::path> written;
  const std::map<std::string, ChartLabels> titles = {{"loss", {"training loss", "step", "loss", false}},
                                                     {"lr", {"learning rate", "step", "lr", false}},
                                                     {"throughput", {"throughput", "step", "samples/s", false}},
                                                     {"waits", {"waiting", "step", "seconds per second", false}},
                                                     {"eval", {"evaluation", "step", "%", false}}};
  for (const auto& [chart, series] : charts) {
    std::vector<Series> list;
    for (const auto& [k, s] : series) list.push_back(s);
    const fs::path png = run_dir / "plots" / (chart + ".png");
    plot_lines(png, list, titles.at(chart));
    written.push_back(png);
  }
  return written;
}

}  // namespace rsclip::train
