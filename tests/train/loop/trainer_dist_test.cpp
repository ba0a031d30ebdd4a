// `rsclip train` as 2 ranks over Gloo on 127.0.0.1, launched with torchrun's variables: a
// 2-rank run interrupted twice (--stop-at-step, as a preemption) and resumed ends bitwise
// equal to an uninterrupted 2-rank run; resuming it with another world size is a clear error.
// A rank whose peer dies exits 75 (resumable), and under torchrun --max-restarts a rank
// killed mid-run restarts the group, which finishes bitwise equal to the uninterrupted run.
#include <signal.h>

#include <fstream>
#include <memory>
#include <sstream>

#include <gtest/gtest.h>

#include "core/io/safetensors.h"
#include "data/synth/synth_dataset.h"
#include "tests/core/dist/dist_launch.h"
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
  expect_all(testing::launch_ranks(exe, train_args(dir, dir / "straight"), 2, dir / "log/straight", 300), 0,
             "straight");

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

// The training pids under a launcher: the processes whose parent is `parent`.
std::vector<int> children_of(int parent) {
  std::vector<int> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(std::stoi(name));
  }
  return out;
}

std::size_t logged_steps(const fs::path& metrics) {
  std::size_t n = 0;
  std::ifstream in(metrics);
  for (std::string line; std::getline(in, line);) n += line.find("\"loss\"") != std::string::npos ? 1 : 0;
  return n;
}

fs::path two_rank_data(const fs::path& dir) {
  data::SynthDatasetOptions o;
  o.out = dir / "synth";
  o.seed = 2;
  o.train = 96;
  o.test = 13;
  o.shard_size = 48;
  o.image_size = 64;
  data::write_synth_dataset(o);
  return dir;
}

TEST(TrainerDistributed, SurvivorOfAKilledPeerExitsResumable) {
  const auto dir = two_rank_data(testing::scratch_dir());
  auto args = train_args(dir, dir / "run");
  args.insert(args.end(), {"--set", "schedule.max_steps=100000"});
  args.insert(args.begin(), testing::rsclip_binary().string());
  const int port = testing::free_port();
  std::vector<std::unique_ptr<testing::BackgroundProcess>> ranks;
  for (int r = 0; r < 2; ++r) {
    std::vector<std::string> env = {
        "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port), "RANK=" + std::to_string(r),
        "WORLD_SIZE=2",          "LOCAL_RANK=" + std::to_string(r),     "LOCAL_WORLD_SIZE=2",
        "OMP_NUM_THREADS=1"};
    ranks.push_back(
        std::make_unique<testing::BackgroundProcess>(args, dir / ("rank" + std::to_string(r) + ".log"), env));
  }
  ASSERT_TRUE(testing::wait_until([&] { return logged_steps(dir / "run/tiny_cpu/metrics.jsonl") >= 2; }, 180))
      << ranks[0]->output();
  ranks[1]->signal(SIGKILL);
  EXPECT_EQ(ranks[0]->wait(120), 75) << ranks[0]->output();
  EXPECT_NE(ranks[0]->output().find("torchrun --max-restarts"), std::string::npos) << ranks[0]->output();
}

TEST(TrainerDistributed, TorchrunRestartsTheGroupAfterARankIsKilled) {
  const fs::path torchrun = testing::source_dir() / ".venv/bin/torchrun";
  if (!fs::exists(torchrun)) GTEST_SKIP() << "no .venv/bin/torchrun";
  const auto dir = two_rank_data(testing::scratch_dir());
  auto sets = [&](const fs::path& out) {
    auto a = train_args(dir, out);
    a.insert(a.end(), {"--set", "schedule.max_steps=12", "--set", "checkpoint.every_steps=2"});
    return a;
  };
  fs::create_directories(dir / "log/straight");
  expect_all(
      testing::launch_ranks(testing::rsclip_binary().string(), sets(dir / "straight"), 2, dir / "log/straight", 300), 0,
      "straight");
  std::vector<std::string> argv = {torchrun.string(),
                                   "--nnodes",
                                   "1",
                                   "--nproc-per-node",
                                   "2",
                                   "--max-restarts",
                                   "3",
                                   "--master-port",
                                   std::to_string(testing::free_port()),
                                   "--no-python",
                                   testing::rsclip_binary().string()};
  const auto train = sets(dir / "restarted");
  argv.insert(argv.end(), train.begin(), train.end());
  testing::BackgroundProcess run(argv, dir / "torchrun.log", {"OMP_NUM_THREADS=1"});
  const fs::path metrics = dir / "restarted/tiny_cpu/metrics.jsonl";
  ASSERT_TRUE(testing::wait_until([&] { return logged_steps(metrics) >= 5; }, 240)) << run.output();
  const auto workers = children_of(run.pid());
  ASSERT_EQ(workers.size(), 2u) << run.output();
  ::kill(workers[1], SIGKILL);
  ASSERT_EQ(run.wait(600), 0) << run.output();
  EXPECT_NE(run.output().find("resumed from"), std::string::npos) << run.output();
  const fs::path a = dir / "straight/tiny_cpu/checkpoints/step_00000012";
  const fs::path b = dir / "restarted/tiny_cpu/checkpoints/step_00000012";
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "rng.safetensors"}) {
    const auto ta = load_safetensors(a / f), tb = load_safetensors(b / f);
    ASSERT_EQ(ta.size(), tb.size()) << f;
    for (const auto& item : ta) EXPECT_TRUE(torch::equal(item.value(), tb[item.key()])) << f << ": " << item.key();
  }
  EXPECT_EQ(logged_steps(metrics), 12u);
}

}  // namespace
}  // namespace rsclip
