#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include <fstream>

#include "core/error.h"
#include "train/checkpoint_store.h"
#include "train/plot.h"
#include "train/run_dir.h"
#include "tests/reference/test_support.h"

namespace rsclip::train {
namespace {
namespace fs = std::filesystem;

void touch(const fs::path& dir, const std::string& name) { std::ofstream(dir / name) << "x"; }

TEST(CheckpointStore, KeepsLastKPlusBestAndCleansLeftovers) {
  const auto dir = testing::scratch_dir() / "checkpoints";
  fs::create_directories(dir / ".tmp-step_00000009-123");  // a run killed mid-save
  CheckpointStore store(dir, 2);
  EXPECT_FALSE(fs::exists(dir / ".tmp-step_00000009-123"));
  EXPECT_FALSE(store.latest());
  store.set_best(store.save(10, [](const fs::path& d) { touch(d, "model.safetensors"); }), "mR", 42.0);
  for (int64_t step : {20, 30, 40}) store.save(step, [](const fs::path& d) { touch(d, "model.safetensors"); });
  std::vector<int64_t> steps;
  for (const auto& p : store.list()) steps.push_back(CheckpointStore::step_of(p));
  EXPECT_EQ(steps, (std::vector<int64_t>{10, 30, 40}));  // 20 pruned, 10 kept as best
  EXPECT_EQ(CheckpointStore::step_of(*store.latest()), 40);
  EXPECT_EQ(store.best()->filename(), "step_00000010");
  EXPECT_TRUE(fs::exists(*store.latest() / "model.safetensors"));
}

TEST(CheckpointStore, FailedSaveLeavesNothing) {
  const auto dir = testing::scratch_dir() / "checkpoints";
  CheckpointStore store(dir, 3);
  EXPECT_THROW(store.save(5, [](const fs::path& d) {
    touch(d, "half");
    throw Error("disk full");
  }), Error);
  EXPECT_TRUE(store.list().empty());
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 0u);
}

TEST(MetricsLog, AppendTruncateAndTornLine) {
  const auto dir = testing::scratch_dir();
  {
    MetricsLog log(dir / "metrics.jsonl");
    for (int s = 1; s <= 5; ++s) log.write({{"step", s}, {"loss", 1.0 / s}});
  }
  std::ofstream(dir / "metrics.jsonl", std::ios::app) << "{\"step\": 6, \"lo";  // killed mid-write
  EXPECT_EQ(MetricsLog::read(dir / "metrics.jsonl").size(), 5u);
  MetricsLog::truncate_after(dir / "metrics.jsonl", 3);
  auto records = MetricsLog::read(dir / "metrics.jsonl");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records.back()["step"], 3);
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
