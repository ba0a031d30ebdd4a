// Exports read back whole, the way a user goes: for every registered PEFT method, `rsclip
// train` a few steps of the tiny model, `rsclip export` its last checkpoint, then read the
// export directory back with `rsclip encode` (with and without --model), `rsclip eval` and
// `rsclip train --set init.checkpoint=EXPORT`: each encodes exactly like the training
// checkpoint it came from (max relative error <= 1e-6; adapters of the methods open_clip
// cannot express travel in adapter.safetensors, mergeable ones are folded into the weights).
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/io/safetensors.h"
#include "models/peft/peft.h"
#include "tests/reference/test_support.h"

namespace rsclip {
namespace {
namespace fs = std::filesystem;
using testing::run_rsclip;

class ExportReadback : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    data_ = new fs::path(fs::path(RSCLIP_BINARY_DIR) / "test-tmp" / ("export-readback-" + std::to_string(::getpid())));
    fs::remove_all(*data_);
    const auto r = run_rsclip({"synth", "--out", data_->string(), "--seed", "5", "--train", "64", "--test", "13",
                               "--shard-size", "64", "--image-size", "64"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // Inputs for `rsclip encode`: 4 preprocessed images and 4 token rows of the tiny model.
    torch::manual_seed(0);
    StateDict inputs;
    inputs.insert("pixels", torch::randn({4, 3, 32, 32}));
    inputs.insert("tokens", torch::randint(1, 49000, {4, 77}, torch::kLong));
    save_safetensors(*data_ / "inputs.safetensors", inputs);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*data_);
    delete data_;
  }

  // `rsclip train` of the tiny preset with `method`, writing OUT/NAME; extra `--set`s after.
  static void train(const fs::path& out, const std::string& name, const std::vector<std::string>& sets) {
    std::vector<std::string> args = {
        "train", "--config", (testing::source_dir() / "configs/train/tiny_cpu.yaml").string(), "--resume", "never"};
    std::vector<std::string> all = {"output_dir=" + out.string(), "name=" + name,
                                    "data.shards=" + (*data_ / "train/synth-train-0000.tar").string(),
                                    "logging.progress=off", "peft.method=" + GetParam()};
    // The tiny model's towers are 64 and 32 wide: MRS-Adapter's default bottleneck and
    // shared up-projection (64, for ViT-B/32's 768) leave no room.
    if (GetParam() == "mrs_adapter")
      all.insert(all.end(), {"peft.mrs_adapter.bottleneck=16", "peft.mrs_adapter.shared_dim=16"});
    all.insert(all.end(), sets.begin(), sets.end());
    for (const auto& s : all) args.insert(args.end(), {"--set", s});
    const auto r = run_rsclip(args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  // `rsclip encode` of the shared inputs; returns {image_features, text_features}.
  static StateDict encode(const fs::path& out, std::vector<std::string> model_args) {
    std::vector<std::string> args = {"encode",
                                     "--pixels",
                                     (*data_ / "inputs.safetensors").string(),
                                     "--tokens",
                                     (*data_ / "inputs.safetensors").string(),
                                     "--device",
                                     "cpu",
                                     "--out",
                                     out.string()};
    args.insert(args.end(), model_args.begin(), model_args.end());
    const auto r = run_rsclip(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.exit_code == 0 ? load_safetensors(out) : StateDict{};
  }

  static void expect_same_features(const std::string& what, const StateDict& actual, const StateDict& expected) {
    for (const char* key : {"image_features", "text_features"}) {
      ASSERT_TRUE(actual.contains(key) && expected.contains(key)) << what << ": " << key;
      testing::expect_close(what + " " + key, actual[key], expected[key], 1e-6);
    }
  }

  static fs::path* data_;
};
fs::path* ExportReadback::data_ = nullptr;

TEST_P(ExportReadback, EncodeEvalAndTrainReadTheExportWhole) {
  const std::string method = GetParam();
  const auto work = testing::scratch_dir();
  // Odd steps: the adapter has moved away from its identity initialisation.
  train(work / "runs", "run", {"schedule.max_steps=3", "schedule.warmup=0", "checkpoint.every_steps=3"});
  const fs::path ckpt = work / "runs/run/checkpoints/step_00000003";
  ASSERT_TRUE(fs::exists(ckpt / "model.safetensors"));
  const fs::path exported = work / "export";
  const auto r = run_rsclip({"export", "--checkpoint", ckpt.string(), "--out", exported.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const bool adapter = fs::exists(exported / "adapter.safetensors");
  EXPECT_EQ(adapter, !models::peft::find_method(method).mergeable()) << r.output;

  const auto reference = encode(work / "ckpt.safetensors", {"--checkpoint", ckpt.string()});
  expect_same_features(method + " export (--checkpoint DIR)",
                       encode(work / "a.safetensors", {"--checkpoint", exported.string()}), reference);
  expect_same_features(
      method + " export (--model DIR --checkpoint DIR)",
      encode(work / "b.safetensors", {"--model", exported.string(), "--checkpoint", exported.string()}), reference);

  // rsclip eval: the same results from the export as from the checkpoint.
  const fs::path test = *data_ / "test";
  const std::vector<std::string> sets = {
      "eval",     "--zeroshot", (test / "imagefolder").string(), "--retrieval", (test / "captions.json").string(),
      "--device", "cpu"};
  auto eval_args = [&](const fs::path& checkpoint, const fs::path& out) {
    auto args = sets;
    args.insert(args.end(), {"--checkpoint", checkpoint.string(), "--out", out.string()});
    return args;
  };
  const auto e1 = run_rsclip(eval_args(ckpt, work / "eval_ckpt.json"));
  const auto e2 = run_rsclip(eval_args(exported, work / "eval_export.json"));
  ASSERT_EQ(e1.exit_code, 0) << e1.output;
  ASSERT_EQ(e2.exit_code, 0) << e2.output;
  EXPECT_EQ(nlohmann::json::parse(read_file(work / "eval_export.json")),
            nlohmann::json::parse(read_file(work / "eval_ckpt.json")));
  EXPECT_EQ(e2.output.find("trainable"), std::string::npos) << "eval printed the PEFT table:\n" << e2.output;

  // rsclip train from the export, lr 0: the run's model starts (and stays) the exported one.
  train(work / "runs", "again",
        {"init.checkpoint=" + exported.string(), "optim.lr=0", "schedule.max_steps=1", "checkpoint.every_steps=1"});
  expect_same_features(
      method + " train --set init.checkpoint=EXPORT",
      encode(work / "c.safetensors", {"--checkpoint", (work / "runs/again/checkpoints/step_00000001").string()}),
      reference);
}

// loss.name: siglip on a CLIP config: the export carries the logit_bias the trainer gave
// the model (init_logit_bias in open_clip_config.json's model_cfg), so open_clip builds the
// same model and loads the weights with strict=True.
TEST(SigLipExport, OpenClipLoadsItStrict) {
  const auto work = testing::scratch_dir();
  auto r = run_rsclip({"synth", "--out", (work / "data").string(), "--seed", "6", "--train", "32", "--test", "13",
                       "--shard-size", "32", "--image-size", "64"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> args = {"train", "--config",
                                   (testing::source_dir() / "configs/train/tiny_cpu.yaml").string()};
  const std::vector<std::string> sets = {"output_dir=" + (work / "runs").string(),
                                         "name=siglip",
                                         "loss.name=siglip",
                                         "data.shards=" + (work / "data/train/synth-train-0000.tar").string(),
                                         "schedule.max_steps=2",
                                         "checkpoint.every_steps=2",
                                         "logging.progress=off"};
  for (const auto& s : sets) {
    args.insert(args.end(), {"--set", s});
  }
  r = run_rsclip(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("init_logit_bias"), std::string::npos) << "the log says what it did:\n" << r.output;
  const auto exported = work / "export";
  r = run_rsclip({"export", "--checkpoint", (work / "runs/siglip/checkpoints/step_00000002").string(), "--out",
                  exported.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto cfg = nlohmann::json::parse(read_file(exported / "open_clip_config.json"));
  EXPECT_EQ(cfg["model_cfg"]["init_logit_bias"].get<double>(), -10.0);
  EXPECT_TRUE(load_safetensors(exported / "open_clip_model.safetensors").contains("logit_bias"));
  if (!fs::exists(testing::source_dir() / ".venv/bin/python")) GTEST_SKIP() << "no .venv: open_clip not available";
  std::vector<std::string> images;
  for (const auto& e : fs::recursive_directory_iterator(work / "data/test/imagefolder")) {
    if (e.is_regular_file() && images.size() < 3) images.push_back(e.path().string());
  }
  std::vector<std::string> check = {"--dir", exported.string(), "--rsclip", testing::rsclip_binary().string(),
                                    "--images"};
  check.insert(check.end(), images.begin(), images.end());
  check.insert(check.end(), {"--texts", "a river through farmland", "an airport"});
  const auto out = testing::run_python("scripts/reference/check_export.py", check);
  EXPECT_NE(out.find("strict=True"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(EveryMethod, ExportReadback, ::testing::ValuesIn(models::peft::method_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace rsclip
