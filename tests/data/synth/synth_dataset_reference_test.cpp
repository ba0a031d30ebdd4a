// The `rsclip synth` dataset read by the Python stack its users train and evaluate with:
// webdataset (RS5M fields), tarfile (member metadata), torchvision ImageFolder (zero-shot
// class names) and json + PIL (Karpathy caption set). scripts/reference/read_synth_dataset.py
// prints what it read; this test compares it with what the generator says it wrote.
#include <algorithm>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "data/shards/tar_writer.h"
#include "data/synth/synth_dataset.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {
namespace fs = std::filesystem;

TEST(SynthDatasetReference, PythonReadsShardsFoldersAndJson) {
  constexpr int kTrain = 30, kTest = 26, kSeed = 21;
  const auto dir = testing::scratch_dir() / "synth";
  SynthDatasetOptions o;
  o.out = dir;
  o.seed = kSeed;
  o.train = kTrain;
  o.test = kTest;
  o.shard_size = 12;
  write_synth_dataset(o);
  const auto py = nlohmann::json::parse(testing::run_python("scripts/reference/read_synth_dataset.py", {dir.string()}));

  EXPECT_EQ(py["shards"], nlohmann::json({"synth-train-0000.tar", "synth-train-0001.tar", "synth-train-0002.tar"}));
  EXPECT_EQ(py["sizes"],
            nlohmann::json({{"synth-train-0000.tar", 12}, {"synth-train-0001.tar", 12}, {"synth-train-0002.tar", 6}}));

  // tarfile: three regular members per sample, fixed metadata.
  ASSERT_EQ(py["tar_members"].size(), static_cast<std::size_t>(3 * kTrain));
  for (const auto& m : py["tar_members"]) {
    SCOPED_TRACE(m.dump());
    EXPECT_TRUE(m["regular"].get<bool>());
    EXPECT_EQ(m["mode"], 0644);
    EXPECT_EQ(m["mtime"], 0);
    EXPECT_EQ(m["uid"], 0);
    EXPECT_EQ(m["gid"], 0);
    EXPECT_EQ(m["uname"], "");
    EXPECT_EQ(m["gname"], "");
  }

  // webdataset: one sample per key with exactly the RS5M fields, decodable JPEG, the caption
  // the generator chose.
  ASSERT_EQ(py["samples"].size(), static_cast<std::size_t>(kTrain));
  for (int i = 0; i < kTrain; ++i) {
    const auto& s = py["samples"][static_cast<std::size_t>(i)];
    SCOPED_TRACE(s.dump());
    const auto index = static_cast<std::uint64_t>(i);
    const SceneClass cls = synth_class_of(kSeed, kTrainStream, index);
    const Scene scene = generate_scene(cls, {kSeed, kTrainStream, index});
    EXPECT_EQ(s["key"], fmt::format("{:08d}", i));
    EXPECT_EQ(s["url"], fmt::format("synth-train-{:04d}.tar", i / 12));
    EXPECT_EQ(s["fields"], nlohmann::json({"caption", "img_content", "img_name"}));
    EXPECT_EQ(s["img_name"], fmt::format("{}_{:08d}.jpg", scene_class_name(cls), i));
    EXPECT_EQ(s["caption"], scene.captions[static_cast<std::size_t>(synth_train_caption_choice(kSeed, index))]);
    EXPECT_EQ(s["format"], "JPEG");
    EXPECT_EQ(s["mode"], "RGB");
    EXPECT_EQ(s["size"], nlohmann::json({256, 256}));
  }

  // torchvision ImageFolder: every class, balanced, and the zero-shot names the README's
  // protocol derives ("dense_residential" -> "dense residential") are the caption words.
  const auto& folder = py["imagefolder"];
  ASSERT_EQ(folder["classes"].size(), static_cast<std::size_t>(kSceneClassCount));
  for (std::size_t i = 0; i < folder["classes"].size(); ++i) {
    const std::string name = folder["classes"][i], zs = folder["zero_shot_names"][i];
    EXPECT_EQ(folder["counts"][name], 2) << name;
    bool found = false;
    for (SceneClass c : all_scene_classes()) {
      if (scene_class_name(c) == name) {
        found = true;
        EXPECT_EQ(std::string(scene_class_words(c)).rfind(zs, 0), 0u) << zs;
      }
    }
    EXPECT_TRUE(found) << name;
  }
  EXPECT_EQ(folder["image_sizes"], nlohmann::json({{256, 256}}));

  // Karpathy JSON: five captions per test image, images readable by PIL.
  EXPECT_EQ(py["captions"]["top_level_keys"], nlohmann::json({"dataset", "images"}));
  ASSERT_EQ(py["captions"]["images"].size(), static_cast<std::size_t>(kTest));
  for (int i = 0; i < kTest; ++i) {
    const auto& img = py["captions"]["images"][static_cast<std::size_t>(i)];
    const auto index = static_cast<std::uint64_t>(i);
    const Scene scene =
        generate_scene(synth_class_of(kSeed, kCaptionTestStream, index), {kSeed, kCaptionTestStream, index});
    EXPECT_EQ(img["split"], "test");
    EXPECT_EQ(img["imgid"], i);
    EXPECT_EQ(img["raw"], nlohmann::json(scene.captions));
    EXPECT_EQ(img["sentids"], img["sentence_sentids"]);
    EXPECT_EQ(img["format"], "JPEG");
  }
}

TEST(SynthDatasetReference, PythonTarfileReadsLongAndUtf8MemberNames) {
  const auto dir = testing::scratch_dir();
  const std::string long_key = std::string(130, 'x');
  const std::string utf8_key = "\xe6\xa3\xae\xe6\x9e\x97_forest";  // "森林_forest"
  {
    TarWriter w(dir / "train" / "synth-train-0000.tar");
    const std::string caption = "a caption.";
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(caption.data()), caption.size());
    w.add(long_key + ".caption", bytes);
    w.add(utf8_key + ".caption", bytes);
    w.close();
  }
  const auto out =
      testing::run_python("scripts/reference/list_tar_members.py", {(dir / "train" / "synth-train-0000.tar").string()});
  EXPECT_EQ(nlohmann::json::parse(out), nlohmann::json({long_key + ".caption", utf8_key + ".caption"}));
}

}  // namespace
}  // namespace rsclip::data
