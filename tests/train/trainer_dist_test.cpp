// `rsclip train` as 2 ranks over Gloo on 127.0.0.1, launched with torchrun's variables: a
// 2-rank run interrupted twice (--stop-at-step, as a preemption) and resumed ends bitwise
// equal to an uninterrupted 2-rank run; resuming it with another world size is a clear error.
#include <gtest/gtest.h>

#include "core/safetensors.h"
#include "data/synth_dataset.h"
#include "tests/core/dist_launch.h"
#include "tests/reference/test_support.h"

namespace rsclip {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> train_args(const fs::path& dir, const fs::path& out) {
  return {"train",
          "--config",
          (testing::source_dir() / "configs/train/tiny_cpu.yaml").string(),
          "--set",
          "output_dir=" + out.string(),
          "--set",
          "data.shards=" + (dir / "synth/train/synth-train-{0000..0001}.tar").string(),
          "--set",
          "schedule.max_steps=7",
          "--set",
          "data.batch_size=8",
          "--set",
          "checkpoint.every_steps=0",
          "--set",
          "checkpoint.at_epoch_end=false",
          "--set",
          "logging.progress=off"};
}

void expect_all(const std::vector<testing::RankResult>& ranks, int code, const std::string& what) {
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    EXPECT_EQ(ranks[r].exit_code, code) << what << ": rank " << r << "\n" << ranks[r].output;
  }
}

TEST(TrainerDistributed, TwoRankRunResumesBitwise) {
  const auto dir = testing::scratch_dir();
  data::SynthDatasetOptions o;
  o.out = dir / "synth";
  o.seed = 2;
  o.train = 96;
  o.test = 13;
  o.shard_size = 48;
  o.image_size = 64;
  data::write_synth_dataset(o);
  const std::string exe = testing::rsclip_binary().string();

  fs::create_directories(dir / "log/straight");
  expect_all(testing::launch_ranks(exe, train_args(dir, dir / "straight"), 2, dir / "log/straight", 300), 0, "straight");

  auto args = train_args(dir, dir / "resumed");
  auto stop_at = [&](const char* step) {
    auto a = args;
    a.insert(a.end(), {"--stop-at-step", step});
    return a;
  };
  for (const char* phase : {"a", "b", "c"}) fs::create_directories(dir / "log" / phase);
  expect_all(testing::launch_ranks(exe, stop_at("2"), 2, dir / "log/a", 300), 75, "first part");
  expect_all(testing::launch_ranks(exe, stop_at("5"), 2, dir / "log/b", 300), 75, "second part");
  expect_all(testing::launch_ranks(exe, args, 2, dir / "log/c", 300), 0, "last part");

  const fs::path a = dir / "straight/tiny_cpu/checkpoints/step_00000007";
  const fs::path b = dir / "resumed/tiny_cpu/checkpoints/step_00000007";
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "rng.safetensors"}) {
    const auto ta = load_safetensors(a / f), tb = load_safetensors(b / f);
    ASSERT_EQ(ta.size(), tb.size()) << f;
    for (const auto& item : ta) {
      const auto* other = tb.find(item.key());
      ASSERT_NE(other, nullptr) << f << ": " << item.key();
      EXPECT_TRUE(torch::equal(item.value(), *other)) << f << ": " << item.key();
    }
  }
  // One process cannot continue a 2-rank run of non-resampled data.
  auto more = args;
  more.insert(more.end(), {"--set", "schedule.max_steps=9"});
  const auto single = testing::run_rsclip(more);
  EXPECT_NE(single.exit_code, 0);
  EXPECT_NE(single.output.find("written by 2 ranks"), std::string::npos) << single.output;
}

}  // namespace
}  // namespace rsclip
