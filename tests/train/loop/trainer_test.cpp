// rsclip train end to end on the tiny CPU preset over `rsclip synth` shards: the run
// directory, interrupted-and-resumed runs equal to uninterrupted ones bitwise, gradient
// accumulation equal to one large batch, and the non-finite-loss policy.
#include "train/loop/trainer.h"

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "data/synth/synth_dataset.h"
#include "models/clip/model_config.h"
#include "tests/reference/test_support.h"
#include "train/loop/train_config.h"
#include "train/loop/train_step.h"
#include "train/report/run_dir.h"

namespace rsclip::train {
namespace {
namespace fs = std::filesystem;

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_dir_ = new fs::path(fs::temp_directory_path() / ("rsclip-trainer-test-" + std::to_string(::getpid())));
    fs::remove_all(*data_dir_);
    data::SynthDatasetOptions o;
    o.out = *data_dir_;
    o.seed = 3;
    o.train = 96;
    o.test = 26;
    o.shard_size = 48;
    o.image_size = 64;
    data::write_synth_dataset(o);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*data_dir_);
    delete data_dir_;
  }

  // The tiny CPU preset on the generated shards, writing under `out`.
  static TrainConfig config(const fs::path& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> sets = {"output_dir=" + out.string(),
                                     "data.shards=" + (*data_dir_ / "train" / "synth-train-{0000..0001}.tar").string(),
                                     "logging.progress=off"};
    sets.insert(sets.end(), extra.begin(), extra.end());
    return load_train_config((testing::source_dir() / "configs/train/tiny_cpu.yaml").string(), sets);
  }

  static fs::path* data_dir_;
};
fs::path* TrainerTest::data_dir_ = nullptr;

std::vector<double> losses(const fs::path& metrics) {
  std::vector<double> out;
  for (const auto& r : MetricsLog::read(metrics)) {
    if (r.contains("loss")) out.push_back(r["loss"].get<double>());
  }
  return out;
}

void expect_bitwise_equal(const fs::path& a, const fs::path& b) {
  const auto ta = load_safetensors(a), tb = load_safetensors(b);
  ASSERT_EQ(ta.size(), tb.size()) << a << " vs " << b;
  for (const auto& item : ta) {
    const auto* other = tb.find(item.key());
    ASSERT_NE(other, nullptr) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), *other)) << a.filename() << ": " << item.key() << " differs";
  }
}

TEST_F(TrainerTest, TinyRunWritesTheRunDirectory) {
  const auto out = testing::scratch_dir();
  const fs::path test = *data_dir_ / "test";
  auto cfg = config(out, {"schedule.max_steps=6", "checkpoint.every_steps=3", "eval.every_steps=3",
                          "eval.zeroshot=[{name: scenes, path: " + (test / "imagefolder").string() + "}]",
                          "eval.retrieval=[{name: captions, path: " + (test / "captions.json").string() + "}]",
                          "eval.best_metric=retrieval/captions/mR"});
  ASSERT_EQ(run_training(cfg, {}), 0);
  const fs::path run = out / "tiny_cpu";
  const auto loss = losses(run / "metrics.jsonl");
  ASSERT_EQ(loss.size(), 6u);
  for (double l : loss) EXPECT_TRUE(std::isfinite(l));
  for (const char* f : {"config.yaml", "checkpoints/step_00000006/model.safetensors",
                        "checkpoints/step_00000006/optimizer.safetensors", "checkpoints/step_00000006/trainer.json",
                        "checkpoints/step_00000003/rng.safetensors", "eval/step_00000003.json",
                        "eval/step_00000006.json", "checkpoints/best.json", "plots/loss.png", "summary.json"}) {
    EXPECT_TRUE(fs::exists(run / f)) << f;
  }
  // A finished run continues from its last checkpoint and has nothing left to do.
  ASSERT_EQ(run_training(cfg, {}), 0);
  EXPECT_EQ(losses(run / "metrics.jsonl").size(), 6u);
  // --resume never refuses to overwrite it.
  EXPECT_THROW(run_training(cfg, {.resume = "never"}), Error);
}

TEST_F(TrainerTest, InterruptedRunResumesBitwise) {
  const auto out = testing::scratch_dir();
  const std::vector<std::string> sets = {"schedule.max_steps=8", "checkpoint.every_steps=0",
                                         "checkpoint.at_epoch_end=false", "model.ema.decay=0.9"};
  ASSERT_EQ(run_training(config(out / "straight", sets), {}), 0);
  ASSERT_EQ(run_training(config(out / "resumed", sets), {.stop_at_step = 3}), kExitPreempted);
  ASSERT_TRUE(fs::exists(out / "resumed/tiny_cpu/checkpoints/step_00000003/trainer.json"));
  ASSERT_EQ(run_training(config(out / "resumed", sets), {.stop_at_step = 5}), kExitPreempted);
  ASSERT_EQ(run_training(config(out / "resumed", sets), {}), 0);
  const fs::path a = out / "straight/tiny_cpu/checkpoints/step_00000008";
  const fs::path b = out / "resumed/tiny_cpu/checkpoints/step_00000008";
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "ema.safetensors", "rng.safetensors"}) {
    expect_bitwise_equal(a / f, b / f);
  }
  EXPECT_EQ(losses(out / "straight/tiny_cpu/metrics.jsonl"), losses(out / "resumed/tiny_cpu/metrics.jsonl"));
}

// Every precision mode resumes bitwise: amp_bf16 and pure_bf16 (bf16 autocast, bf16
// weights), and amp (fp16 autocast with the grad scaler, whose scale is checkpointed).
class TrainerPrecision : public TrainerTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(TrainerPrecision, InterruptedRunResumesBitwise) {
  const auto out = testing::scratch_dir();
  const std::vector<std::string> sets = {"schedule.max_steps=6", "checkpoint.every_steps=0",
                                         "checkpoint.at_epoch_end=false", "precision.mode=" + GetParam(),
                                         "precision.growth_interval=2"};
  ASSERT_EQ(run_training(config(out / "straight", sets), {}), 0);
  ASSERT_EQ(run_training(config(out / "resumed", sets), {.stop_at_step = 3}), kExitPreempted);
  ASSERT_EQ(run_training(config(out / "resumed", sets), {}), 0);
  const fs::path a = out / "straight/tiny_cpu/checkpoints/step_00000006";
  const fs::path b = out / "resumed/tiny_cpu/checkpoints/step_00000006";
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "rng.safetensors"}) {
    expect_bitwise_equal(a / f, b / f);
  }
  const auto loss = losses(out / "straight/tiny_cpu/metrics.jsonl");
  ASSERT_EQ(loss.size(), 6u);
  for (double l : loss) EXPECT_TRUE(std::isfinite(l)) << GetParam();
  EXPECT_EQ(loss, losses(out / "resumed/tiny_cpu/metrics.jsonl"));
  if (GetParam() == "pure_bf16") {
    EXPECT_EQ(load_safetensors(a / "model.safetensors")["logit_scale"].scalar_type(), torch::kBFloat16);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, TrainerPrecision, ::testing::Values("amp_bf16", "pure_bf16", "amp"),
                         [](const auto& info) { return info.param; });

// fp16 with the grad scaler: an infinite gradient (as an fp16 overflow gives) skips the
// optimiser step, leaving the weights as they were, and halves the loss scale.
TEST_F(TrainerTest, GradScalerSkipsAnInfiniteGradientAndHalvesTheScale) {
  const auto out = testing::scratch_dir();
  const auto cfg = config(out, {"schedule.max_steps=5", "checkpoint.every_steps=1", "checkpoint.keep_last=0",
                                "precision.mode=amp", "precision.init_scale=1024"});
  ASSERT_EQ(run_training(cfg, {.inf_gradient_at_step = 4}), 0);
  std::map<int64_t, double> scale;
  for (const auto& r : MetricsLog::read(out / "tiny_cpu/metrics.jsonl")) {
    if (r.contains("loss_scale")) scale[r["step"].get<int64_t>()] = r["loss_scale"].get<double>();
  }
  ASSERT_EQ(scale.size(), 5u);
  EXPECT_EQ(scale[3], 1024.0);
  EXPECT_EQ(scale[4], 512.0) << "the scale halves after the overflow";
  const fs::path ckpt = out / "tiny_cpu/checkpoints";
  const auto before = load_safetensors(ckpt / "step_00000003/model.safetensors");
  const auto after = load_safetensors(ckpt / "step_00000004/model.safetensors");
  for (const auto& item : before) {
    EXPECT_TRUE(torch::equal(item.value(), after[item.key()])) << item.key() << " changed in the skipped step";
  }
  EXPECT_FALSE(
      torch::equal(after["logit_scale"], load_safetensors(ckpt / "step_00000005/model.safetensors")["logit_scale"]))
      << "the step after it trains again";
}

TEST_F(TrainerTest, NonFiniteLossStopsWithACheckpoint) {
  const auto out = testing::scratch_dir();
  auto cfg = config(out, {"schedule.max_steps=8", "schedule.warmup=0", "optim.lr=1e12", "loss.on_nonfinite=stop"});
  try {
    run_training(cfg, {});
    FAIL() << "expected the run to stop";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the loss is"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::is_empty(out / "tiny_cpu/checkpoints"));
  // skip: counted, and the run goes on.
  cfg = config(out / "skip", {"schedule.max_steps=8", "schedule.warmup=0", "optim.lr=1e12"});
  ASSERT_EQ(run_training(cfg, {}), 0);
  const auto records = MetricsLog::read(out / "skip/tiny_cpu/metrics.jsonl");
  EXPECT_GT(records.back()["nonfinite_skipped"].get<int64_t>(), 0);
}

// open_clip_train's accum_freq: four micro-batches of 4 give the loss and gradients of one
// batch of 16 -- except logit_scale's, which open_clip accumulates once per micro-batch (each
// micro-batch's backward differentiates the whole-batch loss through the live logit_scale),
// so it is accum_freq times the large batch's.
TEST(TrainStep, AccumulationEqualsOneLargeBatch) {
  torch::manual_seed(0);
  models::CLIP model(models::load_model_config("ViT-tiny-test"));
  auto loss = build_loss(LossConfig{}, {});
  GradScaler scaler(false, 65536.0, 2000, torch::kCPU);
  StepContext ctx{*model, loss, Precision::fp32, 0.0, torch::kCPU, nullptr, nullptr, scaler};
  const auto images = torch::randn({16, 3, 32, 32});
  const auto tokens = torch::randint(1, 1000, {16, 77}, torch::kLong);
  auto grads = [&](int micro) {
    std::vector<data::Batch> batches;
    for (int i = 0; i < 16; i += 16 / micro) {
      data::Batch b;
      b.images = images.slice(0, i, i + 16 / micro);
      b.tokens = tokens.slice(0, i, i + 16 / micro);
      batches.push_back(b);
    }
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    const auto r = forward_backward(ctx, batches);
    std::vector<std::pair<std::string, torch::Tensor>> g;
    for (auto& p : model->named_parameters()) g.emplace_back(p.key(), p.value().grad().clone());
    return std::make_pair(r.loss, g);
  };
  const auto [big_loss, big] = grads(1);
  const auto [acc_loss, acc] = grads(4);
  EXPECT_NEAR(acc_loss, big_loss, 1e-6 * std::abs(big_loss));
  ASSERT_EQ(big.size(), acc.size());
  for (std::size_t i = 0; i < big.size(); ++i) {
    const auto& [name, g] = big[i];
    testing::expect_close(name, acc[i].second, name == "logit_scale" ? 4 * g : g, 1e-5, 1e-9);
  }
}

}  // namespace
}  // namespace rsclip::train
