// `rsclip synth` end to end: byte-identical output for a seed, RS5M shard layout, ImageFolder
// and Karpathy-JSON test sets, held-out test images, option errors.
#include "data/synth/synth_dataset.h"

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "data/eval/eval_datasets.h"
#include "data/shards/utf8_ctype.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {
namespace fs = std::filesystem;
using testing::run_rsclip;

constexpr int kTrain = 30, kTest = 13, kShard = 12;

SynthDatasetOptions options(const fs::path& out, int seed) {
  SynthDatasetOptions o;
  o.out = out;
  o.seed = static_cast<std::uint64_t>(seed);
  o.train = kTrain;
  o.test = kTest;
  o.shard_size = kShard;
  return o;
}

// Through the library (fast); the CLI is exercised where noted.
fs::path generate(const fs::path& out, int seed) {
  write_synth_dataset(options(out, seed));
  return out;
}

fs::path generate_with_cli(const fs::path& out, int seed, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"synth",
                                "--out",
                                out.string(),
                                "--seed",
                                std::to_string(seed),
                                "--train",
                                std::to_string(kTrain),
                                "--test",
                                std::to_string(kTest),
                                "--shard-size",
                                std::to_string(kShard)};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = run_rsclip(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("parking_lot"), std::string::npos) << "per-class summary missing:\n" << r.output;
  return out;
}

// Every file under `root` (relative path -> bytes).
std::map<std::string, std::string> tree(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files[fs::relative(e.path(), root).generic_string()] = read_file(e.path());
  }
  return files;
}

std::vector<std::pair<std::string, std::string>> read_tar(const fs::path& path) {
  const ScopedUtf8Ctype utf8;
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_tar(a.get());
  EXPECT_EQ(archive_read_open_filename(a.get(), path.c_str(), 10240), ARCHIVE_OK);
  std::vector<std::pair<std::string, std::string>> out;
  archive_entry* e = nullptr;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    std::string data(static_cast<std::size_t>(archive_entry_size(e)), '\0');
    if (!data.empty()) archive_read_data(a.get(), data.data(), data.size());
    out.emplace_back(archive_entry_pathname_utf8(e), std::move(data));
  }
  return out;
}

cv::Mat decode(const std::string& jpeg) {
  return cv::imdecode(cv::Mat(1, static_cast<int>(jpeg.size()), CV_8U, const_cast<char*>(jpeg.data())),
                      cv::IMREAD_COLOR);
}

bool is_class_name(const std::string& name) {
  for (SceneClass c : all_scene_classes()) {
    if (scene_class_name(c) == name) return true;
  }
  return false;
}

TEST(SynthDataset, SameSeedGivesIdenticalFiles) {
  const auto dir = testing::scratch_dir();
  const auto a = tree(generate_with_cli(dir / "a", 3)), b = tree(generate(dir / "b", 3));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, bytes] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(bytes == b.at(name)) << name << " differs between two runs with the same seed";
  }
  // 3 shards + sizes.json + 13 ImageFolder images + 13 caption images + captions.json + synth.json
  EXPECT_EQ(a.size(), 3u + 1 + kTest + kTest + 1 + 1);
}

TEST(SynthDataset, DifferentSeedsGiveDifferentData) {
  const auto dir = testing::scratch_dir();
  const auto a = tree(generate(dir / "a", 3)), b = tree(generate(dir / "b", 4));
  EXPECT_NE(a.at("train/synth-train-0000.tar"), b.at("train/synth-train-0000.tar"));
  EXPECT_NE(a.at("test/captions.json"), b.at("test/captions.json"));
  int same = 0;
  for (const auto& [name, bytes] : a) same += name.ends_with(".jpg") && b.count(name) && b.at(name) == bytes;
  EXPECT_EQ(same, 0) << "test images repeat across seeds";
}

TEST(SynthDataset, ShardsFollowTheRs5mLayout) {
  const auto dir = generate(testing::scratch_dir() / "d", 11);
  const auto sizes = nlohmann::json::parse(read_file(dir / "train" / "sizes.json"));
  EXPECT_EQ(sizes,
            nlohmann::json({{"synth-train-0000.tar", 12}, {"synth-train-0001.tar", 12}, {"synth-train-0002.tar", 6}}));
  std::map<std::string, int> per_class;
  int index = 0;
  for (int shard = 0; shard < 3; ++shard) {
    const auto members = read_tar(dir / "train" / fmt::format("synth-train-{:04d}.tar", shard));
    ASSERT_EQ(members.size() % 3, 0u);
    for (std::size_t m = 0; m < members.size(); m += 3, ++index) {
      const std::string key = fmt::format("{:08d}", index);
      ASSERT_EQ(members[m].first, key + ".img_content");
      ASSERT_EQ(members[m + 1].first, key + ".img_name");
      ASSERT_EQ(members[m + 2].first, key + ".caption");
      const cv::Mat img = decode(members[m].second);
      ASSERT_FALSE(img.empty()) << key << ": img_content is not a decodable image";
      EXPECT_EQ(img.size(), cv::Size(256, 256));
      const std::string& name = members[m + 1].second;
      ASSERT_GT(name.size(), 13u);
      const std::string cls = name.substr(0, name.size() - 13);  // "<class>_NNNNNNNN.jpg"
      ASSERT_TRUE(is_class_name(cls)) << name;
      EXPECT_EQ(name, fmt::format("{}_{}.jpg", cls, key));
      // The caption is the chosen one of the regenerated scene's captions.
      const SceneClass c = synth_class_of(11, kTrainStream, static_cast<std::uint64_t>(index));
      EXPECT_EQ(std::string(scene_class_name(c)), cls);
      const Scene scene = generate_scene(c, {11, kTrainStream, static_cast<std::uint64_t>(index)});
      EXPECT_EQ(
          members[m + 2].second,
          scene.captions[static_cast<std::size_t>(synth_train_caption_choice(11, static_cast<std::uint64_t>(index)))]);
      ++per_class[cls];
    }
  }
  EXPECT_EQ(index, kTrain);
  // Balanced: every run of 13 consecutive samples holds every class once.
  for (const auto& [cls, n] : per_class) EXPECT_TRUE(n == 2 || n == 3) << cls << ": " << n;
  EXPECT_EQ(per_class.size(), static_cast<std::size_t>(kSceneClassCount));
}

TEST(SynthDataset, TestSetsFollowImageFolderAndKarpathyFormats) {
  const auto dir = generate(testing::scratch_dir() / "d", 5);
  // ImageFolder: test/imagefolder/<class>/NNNNN.jpg, one image per class here.
  std::set<std::string> classes;
  for (const auto& e : fs::directory_iterator(dir / "test" / "imagefolder")) {
    ASSERT_TRUE(e.is_directory());
    classes.insert(e.path().filename().string());
    int files = 0;
    for (const auto& f : fs::directory_iterator(e.path())) {
      const std::string name = f.path().filename().string();
      EXPECT_EQ(name.size(), 9u) << name;
      EXPECT_TRUE(name.ends_with(".jpg")) << name;
      EXPECT_FALSE(decode(read_file(f.path())).empty()) << name;
      ++files;
    }
    EXPECT_EQ(files, 1) << e.path();
  }
  std::set<std::string> expected;
  for (SceneClass c : all_scene_classes()) expected.insert(std::string(scene_class_name(c)));
  EXPECT_EQ(classes, expected);

  // Karpathy JSON (RSICD's dataset_rsicd.json layout).
  const auto json = nlohmann::json::parse(read_file(dir / "test" / "captions.json"));
  ASSERT_TRUE(json.contains("images"));
  ASSERT_EQ(json["images"].size(), static_cast<std::size_t>(kTest));
  int sentid = 0, imgid = 0;
  for (const auto& image : json["images"]) {
    EXPECT_EQ(image["split"], "test");
    EXPECT_EQ(image["filepath"], "images");
    EXPECT_EQ(image["imgid"], imgid);
    const std::string filename = image["filename"];
    EXPECT_TRUE(fs::exists(dir / "test" / "images" / filename)) << filename;
    ASSERT_EQ(image["sentences"].size(), static_cast<std::size_t>(kCaptionsPerImage));
    const SceneClass c = synth_class_of(5, kCaptionTestStream, static_cast<std::uint64_t>(imgid));
    const Scene scene = generate_scene(c, {5, kCaptionTestStream, static_cast<std::uint64_t>(imgid)});
    EXPECT_EQ(filename, fmt::format("{}_{:05d}.jpg", scene_class_name(c), imgid));
    for (std::size_t k = 0; k < image["sentences"].size(); ++k) {
      const auto& s = image["sentences"][k];
      EXPECT_EQ(s["raw"], scene.captions[k]);
      EXPECT_EQ(s["sentid"], sentid);
      EXPECT_EQ(s["imgid"], imgid);
      EXPECT_EQ(image["sentids"][k], sentid);
      EXPECT_FALSE(s["tokens"].empty());
      ++sentid;
    }
    ++imgid;
  }
  // rsclip's own evaluation readers take both sets as they are.
  const auto zero_shot = read_image_folder(dir / "test" / "imagefolder");
  EXPECT_EQ(zero_shot.images.size(), static_cast<std::size_t>(kTest));
  EXPECT_NE(std::find(zero_shot.classes.begin(), zero_shot.classes.end(), "dense residential"),
            zero_shot.classes.end());
  const auto retrieval = read_karpathy_json(dir / "test" / "captions.json");
  ASSERT_EQ(retrieval.images.size(), static_cast<std::size_t>(kTest));
  EXPECT_EQ(retrieval.captions.size(), static_cast<std::size_t>(kTest * kCaptionsPerImage));
  for (const auto& image : retrieval.images) EXPECT_TRUE(fs::exists(image)) << image;

  const auto manifest = nlohmann::json::parse(read_file(dir / "synth.json"));
  EXPECT_EQ(manifest["seed"], 5);
  EXPECT_EQ(manifest["classes"].size(), static_cast<std::size_t>(kSceneClassCount));
  EXPECT_EQ(manifest["train"]["shards"].size(), 3u);
}

TEST(SynthDataset, TestImagesAreNeverTrainingImages) {
  const auto dir = generate(testing::scratch_dir() / "d", 8);
  std::set<std::string> train;
  for (int shard = 0; shard < 3; ++shard) {
    for (const auto& [name, data] : read_tar(dir / "train" / fmt::format("synth-train-{:04d}.tar", shard))) {
      if (name.ends_with(".img_content")) train.insert(data);
    }
  }
  ASSERT_EQ(train.size(), static_cast<std::size_t>(kTrain));
  std::set<std::string> test;
  for (const auto& e : fs::recursive_directory_iterator(dir / "test")) {
    if (e.path().extension() != ".jpg") continue;
    const std::string data = read_file(e.path());
    EXPECT_FALSE(train.count(data)) << e.path() << " is also a training image";
    test.insert(data);
  }
  EXPECT_EQ(test.size(), static_cast<std::size_t>(2 * kTest)) << "the two test sets share images";
  // Different streams draw different scenes, not just different JPEG bytes.
  for (std::uint64_t i = 0; i < 5; ++i) {
    const Scene a = generate_scene(SceneClass::lake, {8, kTrainStream, i});
    const Scene b = generate_scene(SceneClass::lake, {8, kZeroShotStream, i});
    EXPECT_GT(cv::norm(a.image, b.image, cv::NORM_L1) / a.image.total(), 10.0);
  }
}

TEST(SynthDataset, ImageSizeAndQualityOptions) {
  const auto dir = generate_with_cli(testing::scratch_dir() / "d", 1, {"--image-size", "64", "--jpeg-quality", "50"});
  const auto members = read_tar(dir / "train" / "synth-train-0000.tar");
  EXPECT_EQ(decode(members[0].second).size(), cv::Size(64, 64));
  for (const auto& e : fs::recursive_directory_iterator(dir / "test" / "imagefolder")) {
    if (e.is_regular_file()) {
      EXPECT_EQ(decode(read_file(e.path())).size(), cv::Size(64, 64));
    }
  }
}

TEST(SynthDataset, RefusesToMixDatasetsAndRejectsBadOptions) {
  const auto root = testing::scratch_dir();
  const auto dir = generate(root / "d", 2);
  auto r = run_rsclip({"synth", "--out", dir.string(), "--train", "5", "--test", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("already holds a dataset"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--overwrite"), std::string::npos) << r.output;

  auto o = options(dir, 2);
  o.train = 5;
  o.test = 0;
  o.overwrite = true;
  write_synth_dataset(o);
  EXPECT_TRUE(fs::exists(dir / "train" / "synth-train-0000.tar"));
  EXPECT_FALSE(fs::exists(dir / "train" / "synth-train-0001.tar")) << "stale shard from the old dataset";
  EXPECT_FALSE(fs::exists(dir / "test"));

  const auto bad = [&](auto change) {
    auto b = options(root / "bad", 1);
    change(b);
    return b;
  };
  EXPECT_THROW(write_synth_dataset(bad([](auto& b) { b.test = 5; })), Error);
  EXPECT_THROW(write_synth_dataset(bad([](auto& b) { b.train = -1; })), Error);
  EXPECT_THROW(write_synth_dataset(bad([](auto& b) { b.shard_size = 0; })), Error);
  EXPECT_THROW(write_synth_dataset(bad([](auto& b) { b.image_size = 8; })), Error);
  EXPECT_THROW(write_synth_dataset(bad([](auto& b) { b.jpeg_quality = 101; })), Error);
  EXPECT_THROW(write_synth_dataset(bad([](auto& b) { b.train = b.test = 0; })), Error);
  EXPECT_FALSE(fs::exists(root / "bad" / "train"));
  r = run_rsclip({"synth", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--shard-size"), std::string::npos);
}

}  // namespace
}  // namespace rsclip::data
