#include "train/sweep/sweep_report.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/base/log.h"
#include "train/report/plot.h"
#include "train/report/run_dir.h"
#include "train/sweep/sweep_runner.h"
#include "train/sweep/sweep_status.h"

namespace rsclip::train {
namespace fs = std::filesystem;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::optional<double> number(const nlohmann::json& j, const std::string& key) {
  if (j.is_object() && j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

// The varied keys, in order of first appearance over the variants.
std::vector<std::string> axis_keys(const std::vector<SweepVariant>& variants) {
  std::vector<std::string> keys;
  for (const auto& v : variants) {
    for (const auto& [k, value] : v.axes) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
  }
  return keys;
}

std::string axis_value(const SweepVariant& v, const std::string& key) {
  for (const auto& [k, value] : v.axes) {
    if (k == key) return value;
  }
  return "";
}

struct Stats {
  std::size_t n = 0;
  double mean = kNaN, std = kNaN;  // std: sample standard deviation (n - 1), NaN for n < 2
};

Stats stats(const std::vector<double>& values) {
  Stats s;
  s.n = values.size();
  if (s.n == 0) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n > 1) {
    double sq = 0;
    for (double v : values) sq += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(sq / static_cast<double>(s.n - 1));
  }
  return s;
}

// Groups of variants that differ only in the seed, in order of first appearance.
std::vector<std::pair<std::size_t, std::vector<std::size_t>>> seed_groups(const std::vector<SweepVariant>& variants) {
  std::vector<std::pair<std::size_t, std::vector<std::size_t>>> groups;  // (first member, members)
  for (std::size_t i = 0; i < variants.size(); ++i) {
    if (variants[i].group.empty()) continue;
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& g) { return variants[g.first].group == variants[i].group; });
    if (it == groups.end())
      groups.push_back({i, {i}});
    else
      it->second.push_back(i);
  }
  return groups;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv_number(std::optional<double> v) { return v && std::isfinite(*v) ? fmt::format("{}", *v) : ""; }

std::string human_count(double n) {
  if (n >= 1e9) return fmt::format("{:.3g}B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.3g}M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.3g}K", n / 1e3);
  return fmt::format("{:.0f}", n);
}

std::string params_cell(std::optional<double> trainable, std::optional<double> total) {
  if (!trainable) return "–";
  if (!total || *total <= 0) return human_count(*trainable);
  return fmt::format("{} ({:.3g}%)", human_count(*trainable), 100.0 * *trainable / *total);
}

std::string duration_cell(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds)) return "–";
  const double s = *seconds;
  if (s < 60) return fmt::format("{:.1f} s", s);
  const auto whole = static_cast<int64_t>(std::llround(s));
  if (s < 3600) return fmt::format("{}m{:02d}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02d}m", whole / 3600, (whole % 3600) / 60);
}

std::string value_cell(std::optional<double> v, int decimals) {
  return v && std::isfinite(*v) ? fmt::format("{:.{}f}", *v, decimals) : "–";
}

std::string mean_std_cell(const Stats& s, int decimals) {
  if (s.n == 0) return "–";
  if (s.n == 1) return fmt::format("{:.{}f} (n=1)", s.mean, decimals);
  return fmt::format("{:.{}f} ± {:.{}f}", s.mean, decimals, s.std, decimals);
}

// One numeric column of the tables: how to read it from a result and how to print it.
struct Column {
  std::string name;
  std::function<std::optional<double>(const SweepResult&)> get;
  int decimals;
};

std::vector<Column> numeric_columns(const SweepConfig& c) {
  std::vector<Column> cols = {{"trainable_params", [](const SweepResult& r) { return r.trainable_params; }, 0},
                              {"seconds", [](const SweepResult& r) { return r.seconds; }, 1},
                              {"final_loss", [](const SweepResult& r) { return r.final_loss; }, 4}};
  for (std::size_t m = 0; m < c.metrics.size(); ++m) {
    cols.push_back({c.metrics[m], [m](const SweepResult& r) { return r.metrics[m]; }, 2});
  }
  return cols;
}

std::vector<double> finished_values(const std::vector<SweepResult>& results, const std::vector<std::size_t>& members,
                                    const Column& col) {
  std::vector<double> values;
  for (std::size_t i : members) {
    const auto v = col.get(results[i]);
    if (results[i].status == "finished" && v && std::isfinite(*v)) values.push_back(*v);
  }
  return values;
}

std::string write_csv(const SweepConfig& c, const std::vector<SweepVariant>& variants,
                      const std::vector<SweepResult>& results) {
  const auto keys = axis_keys(variants);
  const auto cols = numeric_columns(c);
  std::string out = "variant,status";
  for (const auto& k : keys) out += "," + csv_field(k);
  out += ",trainable_params,total_params,seconds,final_loss";
  for (const auto& m : c.metrics) out += "," + csv_field(m);
  out += ",error\n";
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const auto& r = results[i];
    out += csv_field(variants[i].name) + "," + r.status;
    for (const auto& k : keys) out += "," + csv_field(axis_value(variants[i], k));
    out += "," + csv_number(r.trainable_params) + "," + csv_number(r.total_params) + "," + csv_number(r.seconds) + "," +
           csv_number(r.final_loss);
    for (const auto& m : r.metrics) out += "," + csv_number(m);
    out += "," + csv_field(r.error) + "\n";
  }
  return out;
}

// Mean and sample standard deviation over the finished seeds of each group.
std::string write_seeds_csv(const SweepConfig& c, const std::vector<SweepVariant>& variants,
                            const std::vector<SweepResult>& results) {
  const auto keys = axis_keys(variants);
  const auto cols = numeric_columns(c);
  std::string out = "group,seeds,finished";
  for (const auto& k : keys) {
    if (k != "seed") out += "," + csv_field(k);
  }
  out += ",total_params";
  for (const auto& col : cols) out += "," + csv_field(col.name + "_mean") + "," + csv_field(col.name + "_std");
  out += "\n";
  for (const auto& [first, members] : seed_groups(variants)) {
    std::size_t done = 0;
    for (std::size_t i : members) done += results[i].status == "finished";
    out += fmt::format("{},{},{}", csv_field(variants[first].group), members.size(), done);
    for (const auto& k : keys) {
      if (k != "seed") out += "," + csv_field(axis_value(variants[first], k));
    }
    out += "," + csv_number(results[first].total_params);
    for (const auto& col : cols) {
      const Stats s = stats(finished_values(results, members, col));
      out += "," + csv_number(s.mean) + "," + csv_number(s.std);
    }
    out += "\n";
  }
  return out;
}

std::string write_markdown(const SweepConfig& c, const std::vector<SweepVariant>& variants,
                           const std::vector<SweepResult>& results) {
  const auto keys = axis_keys(variants);
  const auto cols = numeric_columns(c);
  std::string out = fmt::format(
      "# Sweep `{}`\n\nBase config `{}`, {} variants (sweep file `{}`). Metrics are the "
      "final evaluation of each run (summary.json).\n\n",
      c.name, c.base.string(), variants.size(), c.file.string());
  std::string head = "| variant | status |", rule = "|---|---|";
  for (const auto& k : keys) head += " " + k + " |", rule += "---|";
  head += " trainable params | time | final loss |", rule += "---:|---:|---:|";
  for (const auto& m : c.metrics) head += " " + m + " |", rule += "---:|";
  out += head + "\n" + rule + "\n";
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const auto& r = results[i];
    out += "| " + variants[i].name + " | " + r.status + " |";
    for (const auto& k : keys) out += " " + axis_value(variants[i], k) + " |";
    out += " " + params_cell(r.trainable_params, r.total_params) + " | " + duration_cell(r.seconds) + " | " +
           value_cell(r.final_loss, 4) + " |";
    for (const auto& m : r.metrics) out += " " + value_cell(m, 2) + " |";
    out += "\n";
  }

  const auto groups = seed_groups(variants);
  if (!groups.empty()) {
    out += "\n## Mean ± std over seeds\n\nSample standard deviation (n − 1) over the finished runs of each group.\n\n";
    std::string ghead = "| group | seeds finished |", grule = "|---|---:|";
    for (const auto& k : keys) {
      if (k != "seed") ghead += " " + k + " |", grule += "---|";
    }
    ghead += " trainable params | time | final loss |", grule += "---:|---:|---:|";
    for (const auto& m : c.metrics) ghead += " " + m + " |", grule += "---:|";
    out += ghead + "\n" + grule + "\n";
    for (const auto& [first, members] : groups) {
      std::size_t done = 0;
      for (std::size_t i : members) done += results[i].status == "finished";
      out += fmt::format("| {} | {}/{} |", variants[first].group, done, members.size());
      for (const auto& k : keys) {
        if (k != "seed") out += " " + axis_value(variants[first], k) + " |";
      }
      for (const auto& col : cols) {
        const Stats s = stats(finished_values(results, members, col));
        if (col.name == "trainable_params")
          out += " " + params_cell(s.n ? std::optional(s.mean) : std::nullopt, results[first].total_params) + " |";
        else if (col.name == "seconds")
          out += " " + duration_cell(s.n ? std::optional(s.mean) : std::nullopt) + " |";
        else
          out += " " + mean_std_cell(s, col.decimals) + " |";
      }
      out += "\n";
    }
  }

  std::string failures, unfinished;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const auto& r = results[i];
    if (r.status == "failed") {
      failures += fmt::format("- `{}`: {} (log: `logs/{}.log`)\n", variants[i].name, r.error, variants[i].name);
    } else if (r.status != "finished") {
      unfinished += (unfinished.empty() ? "" : ", ") + fmt::format("`{}` ({})", variants[i].name, r.status);
    }
  }
  if (!failures.empty()) out += "\n## Failed\n\n" + failures;
  if (!unfinished.empty()) {
    out +=
        fmt::format("\n## Not finished\n\n{}: run `rsclip sweep {}` again to continue.\n", unfinished, c.file.string());
  }
  return out;
}

std::string metric_file(const std::string& metric) {
  std::string out;
  for (char ch : metric) out += std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' ? ch : '_';
  return out + ".png";
}

std::vector<fs::path> write_plots(const SweepConfig& c, const std::vector<SweepVariant>& variants,
                                  const std::vector<SweepResult>& results) {
  std::vector<fs::path> written;
  const fs::path dir = c.dir() / "plots";
  const auto groups = seed_groups(variants);
  for (std::size_t m = 0; m < c.metrics.size(); ++m) {
    std::vector<std::string> categories;
    std::vector<BarGroup> bars;
    auto value = [&](std::size_t i) { return results[i].metrics[m].value_or(kNaN); };
    if (!groups.empty()) {
      // Categories = groups; one bar per seed, so the spread over seeds is visible.
      std::vector<std::string> seeds;
      for (const auto& v : variants) {
        if (std::find(seeds.begin(), seeds.end(), v.seed) == seeds.end()) seeds.push_back(v.seed);
      }
      for (const auto& s : seeds) bars.push_back({"seed " + s, std::vector<double>(groups.size(), kNaN)});
      for (std::size_t g = 0; g < groups.size(); ++g) {
        categories.push_back(variants[groups[g].first].group_label);
        for (std::size_t i : groups[g].second) {
          const auto s = std::find(seeds.begin(), seeds.end(), variants[i].seed) - seeds.begin();
          bars[static_cast<std::size_t>(s)].values[g] = value(i);
        }
      }
    } else {
      bars.push_back({c.metrics[m], {}});
      for (std::size_t i = 0; i < variants.size(); ++i) {
        categories.push_back(variants[i].label);
        bars[0].values.push_back(value(i));
      }
    }
    const fs::path png = dir / metric_file(c.metrics[m]);
    plot_bars(png, categories, bars,
              {c.name + ": " + c.metrics[m], groups.empty() ? "variant" : "variant (one bar per seed)",
               c.metrics[m].substr(c.metrics[m].rfind('/') + 1), false});  // the title names it in full
    written.push_back(png);
  }
  std::vector<Series> curves;
  for (const auto& v : variants) {
    Series s{v.name, {}, {}};
    for (const auto& r : MetricsLog::read(c.runs_dir() / v.name / "metrics.jsonl")) {
      if (r.contains("step") && r.contains("loss") && r["loss"].is_number()) {
        s.x.push_back(r["step"].get<double>());
        s.y.push_back(r["loss"].get<double>());
      }
    }
    if (!s.x.empty()) curves.push_back(std::move(s));
  }
  const fs::path png = dir / "loss_curves.png";
  plot_lines(png, curves, {c.name + ": training loss", "step", "loss", false});
  written.push_back(png);
  return written;
}

}  // namespace

std::vector<SweepResult> collect_sweep_results(const SweepConfig& c, const std::vector<SweepVariant>& variants) {
  const SweepStatusFile status(c.dir() / "status.json");
  std::vector<SweepResult> out;
  std::set<std::string> seen_metrics;
  for (const auto& v : variants) {
    SweepResult r;
    r.metrics.assign(c.metrics.size(), std::nullopt);
    const fs::path run = c.runs_dir() / v.name;
    if (run_finished(run)) {
      const auto j = nlohmann::json::parse(read_file(run / "summary.json"));
      r.status = "finished";
      r.trainable_params = number(j, "trainable_params");
      r.total_params = number(j, "total_params");
      r.seconds = number(j, "seconds");
      r.final_loss = number(j, "final_loss");
      const auto eval = j.value("eval", nlohmann::json::object());
      for (auto it = eval.begin(); it != eval.end(); ++it) seen_metrics.insert(it.key());
      for (std::size_t m = 0; m < c.metrics.size(); ++m) r.metrics[m] = number(eval, c.metrics[m]);
    } else if (const auto s = status.find(v.name); s && s->status != "finished") {
      r.status = s->status;
      r.error = s->error;
    } else {
      // No record: never started, or its sweep was killed before it could note the outcome.
      r.status = fs::exists(run) ? "interrupted" : "pending";
    }
    out.push_back(std::move(r));
  }
  for (const auto& m : c.metrics) {
    if (!seen_metrics.empty() && !seen_metrics.count(m)) {
      std::string known;
      for (const auto& k : seen_metrics) known += (known.empty() ? "" : ", ") + k;
      log::warn("{}: metric '{}' is in no finished run's summary.json (they have: {})", c.file.string(), m, known);
    }
  }
  return out;
}

SweepReportFiles write_sweep_report(const SweepConfig& c, const std::vector<SweepVariant>& variants) {
  const auto results = collect_sweep_results(c, variants);
  SweepReportFiles files;
  files.csv = c.dir() / "results.csv";
  files.markdown = c.dir() / "results.md";
  write_file_atomic(files.csv, write_csv(c, variants, results));
  if (!seed_groups(variants).empty()) {
    files.seeds_csv = c.dir() / "results_seeds.csv";
    write_file_atomic(files.seeds_csv, write_seeds_csv(c, variants, results));
  }
  write_file_atomic(files.markdown, write_markdown(c, variants, results));
  files.plots = write_plots(c, variants, results);
  return files;
}

}  // namespace rsclip::train
