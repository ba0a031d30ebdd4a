// End-to-end parity of `rsclip eval` and `rsclip encode --images/--texts` with the open_clip
// Python loop (scripts/reference/eval_reference.py) on a small generated dataset (rsclip
// synth: 13 scene classes, JPEGs) and the same random-weight ViT-tiny-test checkpoint.
// The metrics are rounded percentages and must be equal: every rank decision is the same on
// both sides (features agree to ~3e-7 relative; the smallest gap between neighbouring
// zero-shot logits of this set is ~3.5e-3 at logit scale 100). A random model predicts few
// distinct classes (init seed 2: four), and both ensemble rules give the same metrics here;
// the rules themselves are checked against Python in eval_metrics_test.
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/io/safetensors.h"
#include "data/synth/synth_dataset.h"
#include "tests/reference/test_support.h"
#include "train/eval/evaluator.h"

namespace rsclip::train {
namespace {
namespace fs = std::filesystem;

const std::string kScript = "scripts/reference/eval_reference.py";

std::string model_config() { return (testing::source_dir() / "configs/models/ViT-tiny-test.json").string(); }

// The synth test sets (26 zero-shot images, 26 caption images x 5 captions) and a random
// init written by the Python side.
struct Fixture {
  fs::path dir, folder, captions, init;
};

Fixture prepare() {
  Fixture f;
  f.dir = testing::scratch_dir();
  data::SynthDatasetOptions o;
  o.out = f.dir / "synth";
  o.seed = 7;
  o.train = 13;
  o.test = 26;
  o.shard_size = 13;
  o.image_size = 96;
  data::write_synth_dataset(o);
  f.folder = f.dir / "synth/test/imagefolder";
  f.captions = f.dir / "synth/test/captions.json";
  f.init = f.dir / "init.safetensors";
  testing::run_python(kScript,
                      {"--model", model_config(), "--checkpoint", f.init.string(), "--make-init", "--seed", "2"});
  return f;
}

void print_side_by_side(const nlohmann::json& ours, const nlohmann::json& theirs) {
  const auto a = ours.flatten(), b = theirs.flatten();
  std::printf("%-44s %10s %10s\n", "metric", "rsclip", "open_clip");
  for (auto it = a.begin(); it != a.end(); ++it) {
    std::printf("%-44s %10s %10s\n", it.key().c_str(), it->dump().c_str(),
                b.contains(it.key()) ? b[it.key()].dump().c_str() : "-");
  }
}

TEST(EvalReference, RsclipEvalEqualsOpenClipLoop) {
  const auto f = prepare();
  for (const std::string ensemble : {"georsclip", "open_clip"}) {
    SCOPED_TRACE(ensemble);
    const auto ours_path = f.dir / ("rsclip_" + ensemble + ".json"), py_path = f.dir / ("py_" + ensemble + ".json");
    const auto r = testing::run_rsclip({"eval", "--model", "ViT-tiny-test", "--checkpoint", f.init.string(),
                                        "--zeroshot", f.folder.string(), "--retrieval", f.captions.string(),
                                        "--ensemble", ensemble, "--device", "cpu", "--out", ours_path.string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    testing::run_python(kScript,
                        {"--model", model_config(), "--checkpoint", f.init.string(), "--zeroshot", f.folder.string(),
                         "--retrieval", f.captions.string(), "--ensemble", ensemble, "--out", py_path.string()});
    const auto ours = nlohmann::json::parse(read_file(ours_path));
    const auto theirs = nlohmann::json::parse(read_file(py_path));
    std::printf("ensemble %s\n", ensemble.c_str());
    print_side_by_side(ours, theirs);
    ASSERT_TRUE(ours["zeroshot"].contains("imagefolder"));
    ASSERT_TRUE(ours["retrieval"].contains("captions"));
    EXPECT_EQ(ours["zeroshot"]["imagefolder"]["samples"], 26);
    EXPECT_EQ(ours["zeroshot"]["imagefolder"]["per_class"].size(), 13u);
    EXPECT_EQ(ours["retrieval"]["captions"]["images"], 26);
    EXPECT_EQ(ours["retrieval"]["captions"]["captions"], 130);
    EXPECT_EQ(ours, theirs);
  }
}

// Features of `rsclip encode --images DIR|LIST --texts FILE` vs the same files through PIL,
// open_clip's eval transform and tokenizer, in the same order (names metadata equal too).
TEST(EvalReference, EncodeImagesAndTextsEqualOpenClip) {
  const auto f = prepare();
  const auto doc = nlohmann::json::parse(read_file(f.captions));
  std::string list, texts;
  for (const auto& img : doc["images"]) {
    list += "images/" + img["filename"].get<std::string>() + "\n";
    for (const auto& s : img["sentences"]) texts += s["raw"].get<std::string>() + "\n";
  }
  // Beyond the captions: an empty line, accents, CJK, HTML entities, CRLF, and a text
  // longer than the context (truncated with EOT last).
  texts += "\nCafé près de l'aéroport &amp; du port\n遥感图像中的机场\r\n";
  for (int i = 0; i < 60; ++i) texts += "many green trees and ";
  texts += "a river\n";
  write_file_atomic(f.dir / "synth/test/list.txt", list);
  write_file_atomic(f.dir / "texts.txt", texts);

  struct Case {
    std::string images, texts;
  };
  for (const Case& c :
       {Case{f.folder.string(), (f.dir / "texts.txt").string()}, Case{(f.dir / "synth/test/list.txt").string(), ""}}) {
    SCOPED_TRACE(c.images);
    const auto ours_path = f.dir / "ours.safetensors", py_path = f.dir / "py.safetensors";
    std::vector<std::string> args = {"encode",          "--model", "ViT-tiny-test", "--checkpoint", f.init.string(),
                                     "--device",        "cpu",     "--images",      c.images,       "--out",
                                     ours_path.string()};
    std::vector<std::string> py_args = {"--model",         model_config(), "--checkpoint",   f.init.string(),
                                        "--encode-images", c.images,       "--features-out", py_path.string()};
    if (!c.texts.empty()) {
      args.insert(args.end(), {"--texts", c.texts});
      py_args.insert(py_args.end(), {"--encode-texts", c.texts});
    }
    const auto r = testing::run_rsclip(args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    testing::run_python(kScript, py_args);
    Metadata ours_meta, py_meta;
    auto ours = load_safetensors(ours_path, &ours_meta);
    auto theirs = load_safetensors(py_path, &py_meta);
    testing::expect_close("image_features", ours["image_features"], theirs["image_features"], 1e-5);
    EXPECT_EQ(ours["image_features"].size(0), 26);
    if (c.texts.empty()) {
      ASSERT_TRUE(ours_meta.contains("names"));
      EXPECT_FALSE(ours.contains("text_features"));
      EXPECT_EQ(nlohmann::json::parse(ours_meta["names"]), nlohmann::json::parse(py_meta["names"]));
    } else {
      testing::expect_close("text_features", ours["text_features"], theirs["text_features"], 1e-5);
      EXPECT_EQ(ours["text_features"].size(0), 130 + 4);
      ASSERT_TRUE(ours_meta.contains("image_names") && ours_meta.contains("text_names"));
      EXPECT_FALSE(ours_meta.contains("names"));
      EXPECT_EQ(nlohmann::json::parse(ours_meta["image_names"]), nlohmann::json::parse(py_meta["image_names"]));
      EXPECT_EQ(nlohmann::json::parse(ours_meta["text_names"]), nlohmann::json::parse(py_meta["text_names"]));
    }
  }
}

// --tokens / --pixels (preprocessed inputs) give the same features as --texts / --images
// made those inputs, and carry no names; --images with --pixels is refused.
TEST(EvalReference, EncodePreprocessedInputsMatchRawInputs) {
  const auto dir = testing::scratch_dir();
  const auto init = dir / "init.safetensors";
  testing::run_python(kScript, {"--model", model_config(), "--checkpoint", init.string(), "--make-init"});
  data::SynthDatasetOptions o;
  o.out = dir / "synth";
  o.train = 13;
  o.test = 13;
  o.shard_size = 13;
  o.image_size = 64;
  data::write_synth_dataset(o);
  const auto folder = dir / "synth/test/imagefolder";
  write_file_atomic(dir / "texts.txt", "an airport with two runways\nmany boats in a harbor\n\n");
  data::PreprocessConfig preprocess;
  preprocess.size = 32;
  const Evaluator inputs(EvalSection{}, preprocess, data::TokenizerConfig{}, 1);
  StateDict pixels;
  pixels.insert("pixels", inputs.load_images(data::list_image_files(folder)));
  save_safetensors(dir / "pixels.safetensors", pixels);
  auto encode = [&](std::vector<std::string> extra, const fs::path& out) {
    std::vector<std::string> args = {"encode",   "--model", "ViT-tiny-test", "--checkpoint", init.string(),
                                     "--device", "cpu",     "--out",         out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::run_rsclip(args);
  };
  auto r = testing::run_rsclip(
      {"tokenize", "--texts", (dir / "texts.txt").string(), "--out", (dir / "tokens.safetensors").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = encode({"--images", folder.string(), "--texts", (dir / "texts.txt").string()}, dir / "raw.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = encode({"--pixels", (dir / "pixels.safetensors").string(), "--tokens", (dir / "tokens.safetensors").string()},
             dir / "pre.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Metadata meta;
  auto raw = load_safetensors(dir / "raw.safetensors");
  auto pre = load_safetensors(dir / "pre.safetensors", &meta);
  EXPECT_EQ(pre["text_features"].size(0), 3);
  EXPECT_TRUE(torch::equal(raw["image_features"], pre["image_features"]));
  EXPECT_TRUE(torch::equal(raw["text_features"], pre["text_features"]));
  EXPECT_FALSE(meta.contains("names") || meta.contains("image_names") || meta.contains("text_names"));
  r = encode({"--images", folder.string(), "--pixels", (dir / "pixels.safetensors").string()}, dir / "bad.safetensors");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--images and --pixels"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace rsclip::train
