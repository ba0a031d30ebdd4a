// Multi-process tests of what happens when a rank fails, and of the two launchers
// (torchrun itself, and SLURM variables). Workers: dist_worker.cpp.
#include <cstdio>

#include <regex>

#include <gtest/gtest.h>

#include "tests/core/dist/dist_launch.h"
#include "tests/reference/test_support.h"

namespace rsclip::testing {
namespace {

namespace fs = std::filesystem;

// The first "NAME t=SECONDS" stamp the worker printed (CLOCK_MONOTONIC, shared by the ranks).
double stamp(const std::string& output, const std::string& name) {
  std::smatch match;
  if (!std::regex_search(output, match, std::regex(name + R"( at t=([0-9.]+))"))) return -1;
  return std::stod(match[1]);
}

// Both ranks must end non-zero well within the collective timeout, the survivor naming the
// rank at fault.
void expect_failure_propagates(int fail_rank, const std::string& mode, const std::string& expected) {
  const auto dir = scratch_dir();
  auto ranks = run_workers("fail", 2, dir, {"--fail-rank", std::to_string(fail_rank), "--mode", mode});
  const int survivor = 1 - fail_rank;
  for (int r = 0; r < 2; ++r) {
    EXPECT_FALSE(ranks[r].killed) << "rank " << r << " hung:\n" << ranks[r].output;
    EXPECT_NE(ranks[r].exit_code, 0) << "rank " << r << " output:\n" << ranks[r].output;
    std::printf("  rank %d (%s): exit status %d, process ended %.2f s after launch\n", r,
                r == fail_rank ? "failing" : "survivor", ranks[r].exit_code, ranks[r].seconds);
  }
  const double injected = stamp(ranks[fail_rank].output, "injecting a failure \\(" + mode + "\\)");
  const double stopped = stamp(ranks[survivor].output, "exiting");
  ASSERT_GT(injected, 0) << ranks[fail_rank].output;
  ASSERT_GT(stopped, 0) << ranks[survivor].output;
  std::printf("  survivor gave up %.3f s after the failure (timeout %.0f s)\n", stopped - injected, kWorkerTimeout);
  EXPECT_LT(stopped - injected, kWorkerTimeout / 3) << "the survivor must not wait for the collective timeout";
  const auto& out = ranks[survivor].output;
  EXPECT_NE(out.find(expected), std::string::npos) << "survivor's message should contain '" << expected << "':\n"
                                                   << out;
  const auto error = out.find("dist_worker: error");
  if (error != std::string::npos) std::printf("  survivor: %s", out.substr(error).c_str());
}

TEST(DistributedFailure, RankThatThrowsStopsEveryRank) { expect_failure_propagates(1, "throw", "rank 1 failed: "); }

TEST(DistributedFailure, StoreHostThatThrowsStopsEveryRank) {
  expect_failure_propagates(0, "throw", "rank 0 failed: ");
}

TEST(DistributedFailure, RankThatDiesIsNamed) { expect_failure_propagates(1, "exit", "rank 1 stopped responding"); }

TEST(DistributedLaunch, SlurmVariables) {
  const auto dir = scratch_dir();
  auto ranks = run_workers("check", 2, dir, {}, LaunchStyle::slurm);
  expect_all_succeeded(ranks);
  EXPECT_NE(ranks[1].output.find("check ok: rank 1 of 2, local 1 of 2, launcher slurm, backend gloo"),
            std::string::npos)
      << ranks[1].output;
}

// `torchrun --no-python` starts the C++ binary directly; its agent hosts the store
// (TORCHELASTIC_USE_AGENT_STORE=True), so every rank must connect as a client.
TEST(DistributedLaunch, Torchrun) {
  const auto dir = scratch_dir();
  const fs::path torchrun = fs::path(RSCLIP_PYTHON).parent_path() / "torchrun";
  ASSERT_TRUE(fs::exists(torchrun)) << torchrun << " missing: run scripts/setup.sh";
  const std::string command =
      "cd " + shell_quote(dir.string()) +
      " && env -u RANK -u WORLD_SIZE -u LOCAL_RANK -u MASTER_ADDR -u MASTER_PORT "
      "OMP_NUM_THREADS=1 " +
      shell_quote(torchrun.string()) + " --no-python --nproc-per-node 2 --master-addr 127.0.0.1 --master-port " +
      std::to_string(free_port()) + " " + shell_quote(RSCLIP_DIST_WORKER) + " check " + shell_quote(dir.string());
  const auto result = run_command(command);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  for (int r = 0; r < 2; ++r) {
    const std::string line = "check ok: rank " + std::to_string(r) + " of 2, local " + std::to_string(r) +
                             " of 2, launcher torchrun, backend gloo";
    EXPECT_NE(result.output.find(line), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace rsclip::testing
