#include "train/report/run_dir.h"

#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "tests/reference/test_support.h"
#include "train/report/plot.h"

namespace rsclip::train {
namespace {
namespace fs = std::filesystem;

TEST(MetricsLog, AppendTruncateAndTornLine) {
  const auto dir = testing::scratch_dir();
  {
    MetricsLog log(dir / "metrics.jsonl");
    for (int s = 1; s <= 5; ++s) log.write({{"step", s}, {"loss", 1.0 / s}});
    EXPECT_EQ(log.records(), 5);
  }
  std::ofstream(dir / "metrics.jsonl", std::ios::app) << "{\"step\": 6, \"lo";  // killed mid-write
  EXPECT_EQ(MetricsLog::read(dir / "metrics.jsonl").size(), 5u);
  EXPECT_EQ(MetricsLog(dir / "metrics.jsonl").records(), 5);
  MetricsLog::truncate_after(dir / "metrics.jsonl", 3);
  auto records = MetricsLog::read(dir / "metrics.jsonl");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records.back()["step"], 3);
}

// A torn line that ended up mid-file (an append after a kill) is skipped, not an error, and
// keep_first rewrites the file with exactly the first N complete records.
TEST(MetricsLog, TornLineMidFileIsSkippedAndRepaired) {
  const auto dir = testing::scratch_dir();
  std::ofstream(dir / "metrics.jsonl") << "{\"step\": 1}\n{\"step\": 2, \"lo\n{\"step\": 2}\n[1, 2]\n{\"step\": 3}\n";
  auto records = MetricsLog::read(dir / "metrics.jsonl");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1]["step"], 2);
  MetricsLog::keep_first(dir / "metrics.jsonl", 2);
  EXPECT_EQ(read_file(dir / "metrics.jsonl"), "{\"step\":1}\n{\"step\":2}\n");
  MetricsLog::keep_first(dir / "metrics.jsonl", 0);
  EXPECT_EQ(read_file(dir / "metrics.jsonl"), "");
}

TEST(Plot, RunCurvesAndBarsAreDrawn) {
  const auto dir = testing::scratch_dir();
  RunDir run(dir / "run");
  {
    MetricsLog log(run.metrics());
    for (int s = 1; s <= 50; ++s) log.write({{"step", s}, {"loss", 3.0 / s}, {"lr", 1e-3 * s / 50}});
    log.write({{"step", 50}, {"eval/zeroshot/synth/top1", 42.0}});
  }
  auto files = plot_run(run.root());
  ASSERT_EQ(files.size(), 3u);  // eval, loss, lr
  for (const auto& f : files) {
    auto img = cv::imread(f.string());
    ASSERT_FALSE(img.empty()) << f;
    // Something besides the white background was drawn.
    EXPECT_LT(cv::mean(img)[0], 254.0) << f;
  }
  plot_bars(dir / "bars.png", {"top1", "mR"}, {{"before", {10, 5}}, {"after", {60, 40}}}, {"demo", "", "%", false});
  EXPECT_FALSE(cv::imread((dir / "bars.png").string()).empty());
  EXPECT_THROW(plot_run(dir / "nothing"), Error);
}

}  // namespace
}  // namespace rsclip::train
