// Nothing lost under chaos, the way a user meets it: exit codes for every kind of failure,
// checkpoints verified by their manifests and a damaged newest one skipped on resume, logs
// with every step once after interruptions, and signals (SIGINT like SIGTERM, a second signal
// at once, a stop honoured while the loader starts up or while evaluating).
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "core/base/atomic_file.h"
#include "core/io/safetensors.h"
#include "tests/reference/test_support.h"
#include "train/loop/checkpoint_store.h"
#include "train/report/run_dir.h"

namespace rsclip {
namespace {
namespace fs = std::filesystem;
using testing::run_rsclip;

// `rsclip synth` shards shared by the suite: 64 training images in one shard, 13 test ones.
class Reliability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new fs::path(fs::path(RSCLIP_BINARY_DIR) / "test-tmp" / ("reliability-" + std::to_string(::getpid())));
    fs::remove_all(*data_);
    const auto r = run_rsclip({"synth", "--out", data_->string(), "--seed", "7", "--train", "64", "--test", "13",
                               "--shard-size", "64", "--image-size", "64"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*data_);
    delete data_;
  }

  // rsclip train of the tiny preset into OUT (run name "run"), then `sets`.
  static std::vector<std::string> train_args(const fs::path& out, const std::vector<std::string>& sets) {
    std::vector<std::string> args = {testing::rsclip_binary().string(), "train", "--config",
                                     (testing::source_dir() / "configs/train/tiny_cpu.yaml").string()};
    std::vector<std::string> all = {"output_dir=" + out.string(), "name=run",
                                    "data.shards=" + (*data_ / "train/synth-train-0000.tar").string(),
                                    "logging.progress=off", "checkpoint.keep_last=0"};
    all.insert(all.end(), sets.begin(), sets.end());
    for (const auto& s : all) args.insert(args.end(), {"--set", s});
    return args;
  }
  static testing::CommandResult train(const fs::path& out, const std::vector<std::string>& sets,
                                      const std::vector<std::string>& extra = {}) {
    auto args = train_args(out, sets);
    args.erase(args.begin());
    args.insert(args.end(), extra.begin(), extra.end());
    return run_rsclip(args);
  }

  static fs::path* data_;
};
fs::path* Reliability::data_ = nullptr;

std::vector<int64_t> logged_steps(const fs::path& metrics) {
  std::vector<int64_t> steps;
  for (const auto& r : train::MetricsLog::read(metrics)) {
    if (r.contains("loss")) steps.push_back(r["step"].get<int64_t>());
  }
  return steps;
}

std::vector<int64_t> one_to(int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

void expect_same_files(const fs::path& a, const fs::path& b) {
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "rng.safetensors"}) {
    const auto ta = load_safetensors(a / f), tb = load_safetensors(b / f);
    ASSERT_EQ(ta.size(), tb.size()) << f;
    for (const auto& item : ta) EXPECT_TRUE(torch::equal(item.value(), tb[item.key()])) << f << ": " << item.key();
  }
}

TEST(ExitCodes, EveryFailureIsAMessageAndADocumentedCode) {
  const auto dir = testing::scratch_dir();
  auto r = run_rsclip({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("Exit codes: 0 done; 1 error"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("75 resumable"), std::string::npos) << r.output;
  r = run_rsclip({"train", "--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_rsclip({"export", "--out", (dir / "x").string()});  // --checkpoint missing
  EXPECT_EQ(r.exit_code, 2) << r.output;
  // A file where a run directory belongs: a std::filesystem error, a message, status 1.
  write_file_atomic(dir / "not_a_run", "x");
  r = run_rsclip({"plot", (dir / "not_a_run").string()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("error:"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
  r = run_rsclip({"encode", "--checkpoint", (dir / "missing.safetensors").string(), "--model", "ViT-tiny-test",
                  "--texts", (dir / "not_a_run").string(), "--out", (dir / "f.safetensors").string()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("missing.safetensors"), std::string::npos) << r.output;
  r = run_rsclip({"checkpoint", "verify", dir.string()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no checkpoints here"), std::string::npos) << r.output;
}

// Each checkpoint carries a manifest of sizes and checksums; `rsclip checkpoint verify` reads
// it; a resumed run skips a damaged newest checkpoint for the one before, says so, and ends
// where an uninterrupted run ends, bitwise, with every step logged once.
TEST_F(Reliability, DamagedLatestCheckpointFallsBackToTheOneBefore) {
  const auto dir = testing::scratch_dir();
  const std::vector<std::string> sets = {"schedule.max_steps=8", "checkpoint.every_steps=2"};
  ASSERT_EQ(train(dir / "straight", sets).exit_code, 0);
  auto r = train(dir / "broken", sets, {"--stop-at-step", "6"});
  ASSERT_EQ(r.exit_code, 75) << r.output;
  const fs::path ckpts = dir / "broken/run/checkpoints";
  r = run_rsclip({"checkpoint", "verify", ckpts.string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("step_00000006: valid"), std::string::npos) << r.output;
  {  // one flipped bit in the newest checkpoint's weights
    std::fstream f(ckpts / "step_00000006/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-9, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    f.seekp(-9, std::ios::end);
    c ^= 1;
    f.write(&c, 1);
  }
  r = run_rsclip({"checkpoint", "verify", (dir / "broken/run").string()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("step_00000006: damaged: model.safetensors does not match its checksum"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("step_00000004: valid"), std::string::npos) << r.output;
  r = train(dir / "broken", sets);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("step_00000006 is damaged"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step_00000004"), std::string::npos) << r.output;
  expect_same_files(dir / "straight/run/checkpoints/step_00000008", ckpts / "step_00000008");
  EXPECT_EQ(logged_steps(dir / "broken/run/metrics.jsonl"), one_to(8));
}

// A run killed before its first checkpoint, with a torn last line, then restarted: every
// step once. And records written after the checkpoint a run resumes from are replaced.
TEST_F(Reliability, LogsHoldEveryStepOnceAfterInterruptions) {
  const auto dir = testing::scratch_dir();
  const std::vector<std::string> sets = {"schedule.max_steps=6", "checkpoint.every_steps=3"};
  fs::create_directories(dir / "run/run");
  {  // what a first attempt killed at step 2 (before any checkpoint) left
    std::ofstream m(dir / "run/run/metrics.jsonl");
    m << "{\"step\": 1, \"loss\": 9.0}\n{\"step\": 2, \"loss\": 9.0}\n{\"step\": 3, \"lo";
  }
  ASSERT_EQ(train(dir / "run", sets, {"--stop-at-step", "4"}).exit_code, 75);
  {  // a kill after step 5 was logged, before its checkpoint: the resume starts at step 3
    std::ofstream(dir / "run/run/metrics.jsonl", std::ios::app) << "{\"step\": 5, \"loss\": 1.0}\n{\"step\": 6, \"lo";
  }
  fs::remove_all(dir / "run/run/checkpoints/step_00000004");
  ASSERT_EQ(train(dir / "run", sets).exit_code, 0);
  EXPECT_EQ(logged_steps(dir / "run/run/metrics.jsonl"), one_to(6));
  for (const auto& r : train::MetricsLog::read(dir / "run/run/metrics.jsonl")) EXPECT_NE(r["loss"], 9.0);
}

// A full disk or a file-size limit (ulimit -f) is an error naming the file, not a silent death
// by SIGXFSZ; the checkpoints already written stay valid.
TEST_F(Reliability, FileSizeLimitIsAnErrorNamingTheFile) {
  const auto dir = testing::scratch_dir();
  auto args = train_args(dir, {"schedule.max_steps=2", "checkpoint.every_steps=1"});
  std::string command = "ulimit -f 64 && exec";  // 64 KiB: the config and logs fit, a checkpoint does not
  for (const auto& a : args) command += " " + testing::shell_quote(a);
  const auto r = testing::run_command(command);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("error:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(".safetensors"), std::string::npos) << r.output;
  EXPECT_EQ(run_rsclip({"checkpoint", "verify", (dir / "run").string()}).output.find("damaged"), std::string::npos);
}

// SIGINT is a stop like SIGTERM: a checkpoint at the next step boundary and status 75; the
// same command continues.
TEST_F(Reliability, SigintCheckpointsAndTheSameCommandContinues) {
  const auto dir = testing::scratch_dir();
  const auto args = train_args(dir, {"schedule.max_steps=100000", "checkpoint.every_steps=0",
                                     "checkpoint.at_epoch_end=false", "schedule.warmup=0"});
  testing::BackgroundProcess run(args, dir / "run.log");
  const fs::path metrics = dir / "run/metrics.jsonl";
  ASSERT_TRUE(testing::wait_until([&] { return logged_steps(metrics).size() >= 3; }, 120)) << run.output();
  run.signal(SIGINT);
  ASSERT_EQ(run.wait(60), 75) << run.output();
  const auto checkpoints = train::list_checkpoints(dir / "run/checkpoints");
  ASSERT_EQ(checkpoints.size(), 1u) << run.output();
  const int64_t step = std::stoll(checkpoints.front().filename().string().substr(5));
  EXPECT_EQ(logged_steps(metrics), one_to(step));
  auto more = args;
  more.erase(more.begin());
  more.insert(more.end(), {"--set", "schedule.max_steps=" + std::to_string(step + 2)});
  const auto r = run_rsclip(more);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(logged_steps(metrics), one_to(step + 2));
}

// A second signal ends the process at once; the checkpoints on disk stay valid.
TEST_F(Reliability, SecondSignalExitsAtOnceLeavingCheckpointsIntact) {
  const auto dir = testing::scratch_dir();
  testing::BackgroundProcess run(train_args(dir, {"schedule.max_steps=100000", "checkpoint.every_steps=1"}),
                                 dir / "run.log");
  ASSERT_TRUE(testing::wait_until([&] { return logged_steps(dir / "run/metrics.jsonl").size() >= 3; }, 120))
      << run.output();
  run.signal(SIGTERM);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(30), 75) << run.output();
  const auto r = run_rsclip({"checkpoint", "verify", (dir / "run").string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// A loader waiting for its first batch (a shard command that takes a minute) stops within
// seconds of SIGTERM, and so does a run busy evaluating.
TEST_F(Reliability, StopHonouredWhileTheLoaderStartsAndWhileEvaluating) {
  const auto dir = testing::scratch_dir();
  const std::string shard = (*data_ / "train/synth-train-0000.tar").string();
  {
    testing::BackgroundProcess run(
        train_args(dir / "slow_data", {"data.shards=pipe:sleep 60; cat " + shard, "schedule.max_steps=4"}),
        dir / "slow_data.log");
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const auto t0 = std::chrono::steady_clock::now();
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait(20), 75) << run.output();
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
  }
  // Every step evaluates 4 copies of the test set at 64 images per batch: most of the time
  // goes to evaluation.
  std::string sets;
  for (const char* name : {"a", "b", "c", "d"}) {
    sets += std::string(sets.empty() ? "" : ", ") + "{name: " + name +
            ", path: " + (*data_ / "test/imagefolder").string() + "}";
  }
  testing::BackgroundProcess run(train_args(dir / "eval", {"schedule.max_steps=100000", "eval.every_steps=1",
                                                           "eval.zeroshot=[" + sets + "]", "eval.batch_size=4"}),
                                 dir / "eval.log");
  ASSERT_TRUE(testing::wait_until([&] { return fs::exists(dir / "eval/run/eval/step_00000001.json"); }, 120))
      << run.output();
  const auto t0 = std::chrono::steady_clock::now();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(30), 75) << run.output();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
}

}  // namespace
}  // namespace rsclip
