// The habits of open_clip users, the way they go: a run's TensorBoard event files read back by
// the `tensorboard` package (every scalar of metrics.jsonl, once, after an interrupted and
// resumed run), an export with its model card read by huggingface_hub, the same folder
// "uploaded" into a Hugging Face cache and loaded by its hf-hub: name in rsclip and open_clip,
// and pretrained tags resolved offline with errors that say where to get the weights.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/io/safetensors.h"
#include "models/clip/clip.h"
#include "models/clip/load_state.h"
#include "models/clip/model_config.h"
#include "tests/reference/test_support.h"
#include "train/report/run_dir.h"

namespace rsclip {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_rsclip;

bool have_venv() { return fs::exists(testing::source_dir() / ".venv/bin/python"); }

// A reference script's JSON: its last line (what the packages log comes before it).
json last_line_json(const std::string& output) {
  const auto end = output.find_last_not_of('\n');
  const auto start = output.rfind('\n', end);
  return json::parse(output.substr(start == std::string::npos ? 0 : start + 1));
}

// `rsclip synth` data and `rsclip train` of the tiny preset with extra --set's; returns its output.
class Ecosystem : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = testing::scratch_dir();
    const auto r = run_rsclip({"synth", "--out", (work_ / "data").string(), "--seed", "7", "--train", "64", "--test",
                               "13", "--shard-size", "64", "--image-size", "64"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  testing::CommandResult train(const std::string& name, const std::vector<std::string>& sets) {
    std::vector<std::string> args = {"train", "--config",
                                     (testing::source_dir() / "configs/train/tiny_cpu.yaml").string()};
    std::vector<std::string> all = {
        "output_dir=" + (work_ / "runs").string(),
        "name=" + name,
        "data.shards=" + (work_ / "data/train/synth-train-0000.tar").string(),
        "logging.progress=off",
        "eval.zeroshot=[{name: scenes, path: " + (work_ / "data/test/imagefolder").string() + "}]",
        "eval.retrieval=[{name: captions, path: " + (work_ / "data/test/captions.json").string() + "}]"};
    all.insert(all.end(), sets.begin(), sets.end());
    for (const auto& s : all) args.insert(args.end(), {"--set", s});
    return run_rsclip(args);
  }
  StateDict encode(const std::vector<std::string>& model_args, const std::string& out) {
    torch::manual_seed(0);
    StateDict inputs;
    inputs.insert("pixels", torch::randn({3, 3, 32, 32}));
    inputs.insert("tokens", torch::randint(1, 49000, {3, 77}, torch::kLong));
    save_safetensors(work_ / "inputs.safetensors", inputs);
    std::vector<std::string> args = {"encode",
                                     "--pixels",
                                     (work_ / "inputs.safetensors").string(),
                                     "--tokens",
                                     (work_ / "inputs.safetensors").string(),
                                     "--device",
                                     "cpu",
                                     "--out",
                                     (work_ / out).string()};
    args.insert(args.end(), model_args.begin(), model_args.end());
    const auto r = run_rsclip(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.exit_code == 0 ? load_safetensors(work_ / out) : StateDict{};
  }
  fs::path work_;
};

TEST_F(Ecosystem, TensorBoardHoldsEveryScalarOnceAfterAResumedRun) {
  const std::vector<std::string> sets = {"schedule.max_steps=6", "checkpoint.every_steps=3", "eval.every_steps=3"};
  auto r = train("tb", sets);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // As if killed after step 6 was logged but before its checkpoint: the run resumes from step 4
  // (the end of its first epoch) and logs steps 5 and 6 again; TensorBoard must drop the first
  // session's 5 and 6.
  const fs::path run = work_ / "runs/tb";
  fs::remove_all(run / "checkpoints/step_00000006");
  r = train("tb", sets);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(std::distance(fs::directory_iterator(run / "tensorboard"), fs::directory_iterator{}), 2)
      << "one event file per session";
  if (!have_venv()) GTEST_SKIP() << "no .venv: the tensorboard package is not available";

  const auto tb =
      last_line_json(testing::run_python("scripts/reference/read_tensorboard.py", {(run / "tensorboard").string()}));
  // Every number of metrics.jsonl is a scalar at its step, exactly once, with its value.
  std::map<std::string, std::map<int64_t, double>> expected;
  for (const auto& rec : train::MetricsLog::read(run / "metrics.jsonl")) {
    for (const auto& [k, v] : rec.items()) {
      if (!v.is_number() || k == "step" || k == "epoch") continue;
      const std::string tag = k.find('/') != std::string::npos ? k : "train/" + k;
      ASSERT_FALSE(expected[tag].count(rec["step"])) << tag << " twice in metrics.jsonl at step " << rec["step"];
      expected[tag][rec["step"]] = v.get<double>();
    }
  }
  std::set<std::string> tags;
  for (const auto& [tag, points] : tb["scalars"].items()) tags.insert(tag);
  for (const auto& [tag, by_step] : expected) {
    ASSERT_TRUE(tb["scalars"].contains(tag)) << tag << " is not in TensorBoard";
    const auto& points = tb["scalars"][tag];
    EXPECT_EQ(points.size(), by_step.size()) << tag << ": " << points.dump();
    for (const auto& p : points) {
      const int64_t step = p[0];
      ASSERT_TRUE(by_step.count(step)) << tag << " at step " << step << " is not in metrics.jsonl";
      const double want = static_cast<float>(by_step.at(step));  // TensorBoard keeps float32
      EXPECT_NEAR(p[1].get<double>(), want, 1e-6 * std::max(1.0, std::abs(want))) << tag << " at step " << step;
    }
    tags.erase(tag);
  }
  EXPECT_TRUE(tags.empty()) << "scalars TensorBoard has that metrics.jsonl has not: " << *tags.begin();
  for (const char* tag : {"train/loss", "train/lr", "train/logit_scale", "train/samples_per_s", "train/data_wait",
                          "eval/zeroshot/scenes/top1", "eval/retrieval/captions/mR"}) {
    EXPECT_EQ(tb["scalars"][tag].size(), std::string(tag).rfind("eval/", 0) == 0 ? 2u : 6u) << tag;
  }
  ASSERT_TRUE(tb["texts"].contains("config")) << tb["texts"].dump();
  EXPECT_NE(tb["texts"]["config"].back()[1].get<std::string>().find("ViT-tiny-test"), std::string::npos);
  std::string listing;
  for (const auto& [tag, points] : tb["scalars"].items())
    listing += "  " + tag + " (" + std::to_string(points.size()) + ")\n";
  std::printf("TensorBoard scalars read back:\n%s", listing.c_str());
}

TEST_F(Ecosystem, ExportWithItsCardLoadsByItsHubNameInRsclipAndOpenClip) {
  auto r =
      train("lora", {"peft.method=lora", "schedule.max_steps=3", "checkpoint.every_steps=3", "eval.every_steps=3"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path ckpt = work_ / "runs/lora/checkpoints/step_00000003", out = work_ / "tiny-rs-lora";
  r = run_rsclip({"export", "--checkpoint", ckpt.string(), "--out", out.string(), "--license", "mit"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("trainable parameters"), std::string::npos) << "export printed the PEFT table:\n" << r.output;
  const std::string card = read_file(out / "README.md");
  EXPECT_EQ(card.rfind("---\nlibrary_name: open_clip\n", 0), 0u) << card;
  for (const char* s : {"| architecture | `ViT-tiny-test` |", "| PEFT method | lora |", "| training | 3 steps",
                        "```yaml", "synth-train-0000.tar"}) {
    EXPECT_NE(card.find(s), std::string::npos) << s << "\n" << card;
  }
  std::printf("%s", card.substr(0, card.find("## Training config")).c_str());

  // "Uploaded": the folder as a snapshot of rsclip-test/tiny-rs-lora in a Hugging Face cache.
  const fs::path hub = work_ / "hub", repo = hub / "models--rsclip-test--tiny-rs-lora";
  const std::string commit = "0123456789abcdef0123456789abcdef01234567";
  fs::create_directories(repo / "refs");
  fs::create_directories(repo / "snapshots" / commit);
  fs::copy(out, repo / "snapshots" / commit, fs::copy_options::recursive);
  write_file_atomic(repo / "refs/main", commit);
  ::setenv("HF_HUB_CACHE", hub.c_str(), 1);
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  const auto from_dir = encode({"--checkpoint", out.string()}, "dir.safetensors");
  const auto from_hub = encode({"--checkpoint", "hf-hub:rsclip-test/tiny-rs-lora"}, "hub.safetensors");
  const auto from_ckpt = encode({"--checkpoint", ckpt.string()}, "ckpt.safetensors");
  for (const char* k : {"image_features", "text_features"}) {
    ASSERT_TRUE(from_hub.contains(k) && from_dir.contains(k)) << k;
    EXPECT_TRUE(testing::same_bytes(from_hub[k], from_dir[k])) << k;
    testing::expect_close(std::string("export vs checkpoint ") + k, from_dir[k], from_ckpt[k], 1e-6);
  }
  // A run named by the hub model starts from its weights (lr 0: it stays there).
  r = train("fromhub", {"model.name=hf-hub:rsclip-test/tiny-rs-lora", "optim.lr=0", "schedule.max_steps=1",
                        "checkpoint.every_steps=1", "eval.zeroshot=[]", "eval.retrieval=[]"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto trained =
      encode({"--checkpoint", (work_ / "runs/fromhub/checkpoints/step_00000001").string()}, "fromhub.safetensors");
  for (const char* k : {"image_features", "text_features"}) {
    testing::expect_close(std::string("train from hf-hub: ") + k, trained[k], from_dir[k], 1e-6);
  }

  if (!have_venv()) GTEST_SKIP() << "no .venv: huggingface_hub and open_clip are not available";
  // huggingface_hub reads the card: metadata and the run's evaluation as model-index results.
  const auto parsed =
      last_line_json(testing::run_python("scripts/reference/read_model_card.py", {(out / "README.md").string()}));
  EXPECT_EQ(parsed["metadata"]["library_name"], "open_clip");
  EXPECT_EQ(parsed["metadata"]["license"], "mit");
  const auto tags = parsed["metadata"]["tags"];
  EXPECT_NE(std::find(tags.begin(), tags.end(), "lora"), tags.end()) << tags.dump();
  const auto eval = json::parse(read_file(work_ / "runs/lora/eval/step_00000003.json"));
  std::map<std::string, double> found;
  for (const auto& res : parsed["results"])
    found[res["dataset"].get<std::string>() + " " + res["metric"].get<std::string>()] = res["value"];
  EXPECT_DOUBLE_EQ(found.at("scenes top-1 accuracy (%)"), eval["zeroshot"]["scenes"]["top1"].get<double>());
  EXPECT_DOUBLE_EQ(found.at("captions mean recall"), eval["retrieval"]["captions"]["mR"].get<double>());
  // open_clip loads the hub name offline (strict=True) and computes rsclip's features.
  std::vector<std::string> images;
  for (const auto& e : fs::recursive_directory_iterator(work_ / "data/test/imagefolder")) {
    if (e.is_regular_file() && images.size() < 2) images.push_back(e.path().string());
  }
  std::vector<std::string> check = {
      "--dir",   out.string(), "--hub", "rsclip-test/tiny-rs-lora", "--rsclip", testing::rsclip_binary().string(),
      "--images"};
  check.insert(check.end(), images.begin(), images.end());
  check.insert(check.end(), {"--texts", "a harbour with boats", "farmland"});
  const auto loaded = testing::run_python("scripts/reference/check_export.py", check);
  EXPECT_NE(loaded.find("hf-hub:rsclip-test/tiny-rs-lora and"), std::string::npos) << loaded;
  EXPECT_NE(loaded.find("strict=True"), std::string::npos) << loaded;
  ::unsetenv("HF_HUB_CACHE");
  ::unsetenv("HF_HUB_OFFLINE");
}

TEST(PretrainedTags, MissingWeightsSayWhereRsclipLookedAndHowToFetchThem) {
  const auto work = testing::scratch_dir();
  ::setenv("HF_HUB_CACHE", (work / "hub").c_str(), 1);
  const auto r = run_rsclip({"encode", "--model", "ViT-B-32", "--pretrained", "laion2b_s34b_b79k", "--pretrained-dir",
                             (work / "weights").string(), "--tokens", "t.safetensors", "--out",
                             (work / "out.safetensors").string()});
  ::unsetenv("HF_HUB_CACHE");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  for (const std::string& s : std::vector<std::string>{
           "no weights for ViT-B-32 pretrained laion2b_s34b_b79k", "looked in", (work / "weights").string(),
           (work / "hub/models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K").string(),
           "huggingface-cli download laion/CLIP-ViT-B-32-laion2B-s34B-b79K"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  }
  const auto list = run_rsclip({"info", "--list"});
  EXPECT_NE(list.output.find("ViT-B-32  pretrained: "), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("georsclip"), std::string::npos) << list.output;
}

// GeoRSCLIP's release by its tag: `--model ViT-B-32 --pretrained georsclip` finds
// RS5M_ViT-B-32.pt in --pretrained-dir and builds the QuickGELU model it was fine-tuned as.
TEST(PretrainedTags, GeoRsclipReleaseByTagIsTheQuickGeluModelOfItsFile) {
  const auto work = testing::scratch_dir();
  torch::manual_seed(3);
  models::CLIP model(models::load_model_config("ViT-B-32-quickgelu"));
  fs::create_directories(work / "weights");
  const fs::path release = work / "weights/RS5M_ViT-B-32.pt";  // rsclip reads weights by content
  save_safetensors(release, models::model_state_dict(*model));
  StateDict inputs;
  inputs.insert("tokens", torch::randint(1, 49000, {2, 77}, torch::kLong));
  save_safetensors(work / "tokens.safetensors", inputs);
  auto encode = [&](std::vector<std::string> args, const std::string& out) {
    args.insert(args.begin(), {"encode", "--tokens", (work / "tokens.safetensors").string(), "--device", "cpu", "--out",
                               (work / out).string()});
    const auto r = run_rsclip(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.exit_code == 0 ? load_safetensors(work / out)["text_features"] : torch::Tensor();
  };
  const auto by_tag = encode(
      {"--model", "ViT-B-32", "--pretrained", "georsclip", "--pretrained-dir", (work / "weights").string()}, "a");
  const auto by_file = encode({"--model", "ViT-B-32-quickgelu", "--checkpoint", release.string()}, "b");
  const auto as_gelu = encode({"--model", "ViT-B-32", "--checkpoint", release.string()}, "c");
  ASSERT_TRUE(by_tag.defined() && by_file.defined() && as_gelu.defined());
  EXPECT_TRUE(testing::same_bytes(by_tag, by_file));
  EXPECT_FALSE(torch::allclose(by_tag, as_gelu));  // the activation matters
}

}  // namespace
}  // namespace rsclip
