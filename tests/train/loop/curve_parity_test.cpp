// Curve parity with open_clip_train: the same random init, the same shards in the same order
// (no shuffle, eval transform), the same hyper-parameters -> rsclip's loss, lr and logit_scale
// per step equal `open_clip_train.main`'s (fp32, CPU; scripts/reference/open_clip_train_curve.py
// runs open_clip_train). RSCLIP_CURVE_STEPS=200 runs a longer CLIP curve. Also SigLIP on a
// CLIP config (open_clip_train --siglip: logit_scale ln 10, logit_bias -10, or the init's
// scale with a zero bias), on one process and on 2 ranks over Gloo for each dist_impl.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "data/synth/synth_dataset.h"
#include "tests/core/dist/dist_launch.h"
#include "tests/reference/test_support.h"
#include "train/loop/train_config.h"
#include "train/loop/trainer.h"
#include "train/report/run_dir.h"

namespace rsclip::train {
namespace {
namespace fs = std::filesystem;

struct Curve {
  int steps = 24, batch = 8, warmup = 5, world = 1;
  std::vector<std::string> python_args;  // extra open_clip_train_curve.py arguments
  std::vector<std::string> sets;         // extra rsclip `--set`s
};

struct Curves {
  std::vector<nlohmann::json> ours;
  nlohmann::json py;
};

// Writes shards of steps * batch * world samples (one shard per rank, read in order), the
// shared init, then runs both trainers.
Curves run_curves(const fs::path& dir, const Curve& c) {
  data::SynthDatasetOptions o;
  o.out = dir / "synth";
  o.seed = 1;
  o.train = c.steps * c.batch * c.world;
  o.test = 13;
  o.shard_size = c.steps * c.batch;
  o.image_size = 64;
  data::write_synth_dataset(o);
  const std::string shards = (dir / fmt::format("synth/train/synth-train-{{0000..{:04d}}}.tar", c.world - 1)).string();
  const auto init = dir / "init.safetensors";
  std::vector<std::string> py_args = {"--shards",
                                      shards,
                                      "--model-config",
                                      (testing::source_dir() / "configs/models/ViT-tiny-test.json").string(),
                                      "--init",
                                      init.string(),
                                      "--make-init",
                                      "--out",
                                      (dir / "py").string(),
                                      "--steps",
                                      std::to_string(c.steps),
                                      "--batch-size",
                                      std::to_string(c.batch),
                                      "--lr",
                                      "1e-3",
                                      "--wd",
                                      "0.1",
                                      "--warmup",
                                      std::to_string(c.warmup),
                                      "--threads",
                                      "1"};
  py_args.insert(py_args.end(), c.python_args.begin(), c.python_args.end());
  std::vector<std::string> sets = {"output_dir=" + (dir / "runs").string(),
                                   "init.checkpoint=" + init.string(),
                                   "data.shards=" + shards,
                                   "data.batch_size=" + std::to_string(c.batch),
                                   "data.shuffle_buffer=0",
                                   "data.shuffle_shards=false",
                                   "data.augmentation=false",
                                   "optim.lr=1e-3",
                                   "optim.weight_decay=0.1",
                                   "schedule.warmup=" + std::to_string(c.warmup),
                                   "schedule.max_steps=" + std::to_string(c.steps),
                                   "checkpoint.every_steps=0",
                                   "checkpoint.at_epoch_end=false",
                                   "logging.every_steps=1",
                                   "logging.progress=off"};
  sets.insert(sets.end(), c.sets.begin(), c.sets.end());
  if (c.world == 1) {
    testing::run_python("scripts/reference/open_clip_train_curve.py", py_args);
    EXPECT_EQ(
        run_training(load_train_config((testing::source_dir() / "configs/train/tiny_cpu.yaml").string(), sets), {}), 0);
  } else {
    std::string cmd =
        "OMP_NUM_THREADS=1 " + testing::shell_quote((testing::source_dir() / ".venv/bin/torchrun").string()) +
        " --nproc-per-node " + std::to_string(c.world) + " --master-port " + std::to_string(testing::free_port()) +
        " " + testing::shell_quote((testing::source_dir() / "scripts/reference/open_clip_train_curve.py").string());
    for (const auto& a : py_args) cmd += " " + testing::shell_quote(a);
    const auto py = testing::run_command(cmd + " 2>&1");
    EXPECT_EQ(py.exit_code, 0) << py.output;
    std::vector<std::string> args = {"train", "--config",
                                     (testing::source_dir() / "configs/train/tiny_cpu.yaml").string()};
    for (const auto& s : sets) args.insert(args.end(), {"--set", s});
    fs::create_directories(dir / "logs");
    const auto ranks = testing::launch_ranks(testing::rsclip_binary().string(), args, c.world, dir / "logs", 600);
    for (std::size_t r = 0; r < ranks.size(); ++r) EXPECT_EQ(ranks[r].exit_code, 0) << ranks[r].output;
  }
  Curves out;
  for (const auto& r : MetricsLog::read(dir / "runs/tiny_cpu/metrics.jsonl")) {
    if (r.contains("loss")) out.ours.push_back(r);
  }
  if (fs::exists(dir / "py/curve.json")) out.py = nlohmann::json::parse(read_file(dir / "py/curve.json"));
  return out;
}

// Every step's loss within `loss_rel` relative, lr to 1e-9 and logit_scale to 1e-5 relative.
// rsclip logs logit_scale after the step's update; open_clip's side records the value its
// loss received, i.e. before the update: rsclip's step i is open_clip's step i + 1.
double expect_same_curves(const Curves& c, int steps, double loss_rel) {
  EXPECT_EQ(c.ours.size(), static_cast<std::size_t>(steps));
  EXPECT_EQ(c.py["loss"].size(), static_cast<std::size_t>(steps));
  if (c.ours.size() != static_cast<std::size_t>(steps) || c.py["loss"].size() != static_cast<std::size_t>(steps)) {
    return 1;
  }
  double worst = 0;
  for (int i = 0; i < steps; ++i) {
    const double a = c.ours[i]["loss"], b = c.py["loss"][i];
    const double rel = std::abs(a - b) / std::abs(b);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, loss_rel) << "step " << i << ": rsclip " << a << " open_clip_train " << b;
    EXPECT_NEAR(c.ours[i]["lr"].get<double>(), c.py["lr"][i].get<double>(), 1e-9) << "step " << i;
    if (i + 1 < steps) {
      EXPECT_NEAR(c.ours[i]["logit_scale"].get<double>(), c.py["logit_scale"][i + 1].get<double>(),
                  1e-5 * c.py["logit_scale"][i + 1].get<double>())
          << "step " << i;
    }
  }
  std::printf("loss %.6f -> %.6f over %d steps; max relative difference to open_clip_train %.2e\n",
              c.ours.front()["loss"].get<double>(), c.ours.back()["loss"].get<double>(), steps, worst);
  return worst;
}

TEST(CurveParity, LossCurveEqualsOpenClipTrain) {
  Curve c;
  if (const char* env = std::getenv("RSCLIP_CURVE_STEPS")) c.steps = std::atoi(env);
  const auto curves = run_curves(testing::scratch_dir(), c);
  expect_same_curves(curves, c.steps, 1e-5);
}

// loss.name: siglip on a CLIP config, as open_clip_train --siglip: the model gets a
// logit_bias (zero-filled when the init checkpoint has none, as open_clip's load_checkpoint
// does) and SigLipLoss trains it.
TEST(CurveParity, SigLipOnAClipConfigEqualsOpenClipTrainSiglip) {
  Curve c;
  c.steps = 12;
  c.python_args = {"--siglip"};
  c.sets = {"loss.name=siglip"};
  const auto dir = testing::scratch_dir();
  const auto curves = run_curves(dir, c);
  expect_same_curves(curves, c.steps, 1e-5);
  const auto config = read_file(dir / "runs/tiny_cpu/config.yaml");
  EXPECT_NE(config.find("init_logit_bias: -10"), std::string::npos) << config;
}

class SigLipTwoRanks : public ::testing::TestWithParam<std::string> {};

TEST_P(SigLipTwoRanks, CurveEqualsOpenClipTrainOverGloo) {
  Curve c;
  c.steps = 6;
  c.world = 2;
  c.python_args = {"--siglip", "--loss-dist-impl", GetParam()};
  c.sets = {"loss.name=siglip", "loss.siglip.dist_impl=" + GetParam()};
  const auto curves = run_curves(testing::scratch_dir(), c);
  expect_same_curves(curves, c.steps, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(DistImpl, SigLipTwoRanks, ::testing::Values("bidir", "shift", "gather"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace rsclip::train
