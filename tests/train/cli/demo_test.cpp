// The newcomer path: a shortened scripts/demo.sh (few dozen steps, small data) runs end to end,
// the loss falls, and the files the README promises appear (plots, evaluations, export; and
// with .venv, open_clip loads the export strict=True and reproduces the embeddings).
#include <gtest/gtest.h>

#include "tests/reference/test_support.h"
#include "train/report/run_dir.h"

namespace rsclip {
namespace {
namespace fs = std::filesystem;

TEST(Demo, ShortDemoLearnsAndWritesWhatTheReadmeSays) {
  const auto work = testing::scratch_dir();
  const auto r = testing::run_command(
      "DEMO_WORK=" + testing::shell_quote(work.string()) + " DEMO_TRAIN=390 DEMO_TEST=52 RSCLIP_JOBS=1 " +
      testing::shell_quote((testing::source_dir() / "scripts/demo.sh").string()) + " --steps 24 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path run = work / "runs/demo";
  for (const char* f :
       {"plots/loss.png", "plots/lr.png", "plots/eval.png", "plots/recall_before_after.png", "eval_before.json",
        "eval_after.json", "metrics.jsonl", "summary.json", "export/open_clip_model.safetensors",
        "export/open_clip_pytorch_model.bin", "export/open_clip_config.json"}) {
    EXPECT_TRUE(fs::exists(run / f)) << f << "\n" << r.output;
  }
  std::vector<double> loss;
  for (const auto& rec : train::MetricsLog::read(run / "metrics.jsonl")) {
    if (rec.contains("loss")) loss.push_back(rec["loss"].get<double>());
  }
  ASSERT_GE(loss.size(), 2u);
  EXPECT_LT(loss.back(), loss.front() - 0.3) << "the loss did not fall";
  EXPECT_NE(r.output.find("before"), std::string::npos) << r.output;
  if (fs::exists(testing::source_dir() / ".venv/bin/python")) {
    EXPECT_NE(r.output.find("strict=True"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("MISMATCH"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace rsclip
