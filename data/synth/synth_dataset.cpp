#include "data/synth/synth_dataset.h"

#include <cctype>
#include <chrono>
#include <fstream>
#include <memory>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "data/image/image_encode.h"
#include "data/shards/tar_writer.h"
#include "data/synth/scene_rng.h"

namespace rsclip::data {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::ordered_json;

void validate(const SynthDatasetOptions& o) {
  const auto bad = [](const std::string& what, const std::string& hint) { throw Error(what, "rsclip synth", hint); };
  if (o.out.empty()) bad("no output directory", "pass --out DIR");
  if (o.train < 0 || o.test < 0) bad("negative image count", "--train and --test count images");
  if (o.train == 0 && o.test == 0) bad("nothing to generate", "pass --train N and/or --test M");
  if (o.test > 0 && o.test < kSceneClassCount) {
    bad(fmt::format("--test {} leaves some of the {} classes without a test image", o.test, kSceneClassCount),
        fmt::format("use --test 0 or at least {} (ImageFolder readers reject empty classes)", kSceneClassCount));
  }
  if (o.shard_size < 1) bad("--shard-size must be at least 1", "a few hundred to a few thousand samples per shard");
  if (o.image_size < 32 || o.image_size > 1024) bad("--image-size must be within 32..1024", "scenes are drawn at 256");
  if (o.jpeg_quality < 1 || o.jpeg_quality > 100) bad("--jpeg-quality must be within 1..100", "90 is the default");
}

// Refuses to mix a new dataset into an old one (stale shards would join the training set).
void prepare_output(const SynthDatasetOptions& o) {
  for (const auto& p : {o.out / "train", o.out / "test", o.out / "synth.json"}) {
    if (!fs::exists(p)) continue;
    if (!o.overwrite) {
      throw Error("the output directory already holds a dataset", p.string(),
                  "choose an empty --out, or pass --overwrite to replace train/, test/ and synth.json");
    }
    std::error_code ec;
    fs::remove_all(p, ec);
    if (ec) throw Error("cannot remove the old dataset: " + ec.message(), p.string());
  }
}

void write_bytes(const fs::path& path, std::span<const std::uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw Error("cannot write file", path.string(), "is the disk full or the directory read-only?");
}

std::span<const std::uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Karpathy-style tokens: lower-case words without punctuation.
Json tokens(const std::string& sentence) {
  Json out = Json::array();
  std::string word;
  for (char c : sentence + " ") {
    if (c == ' ' || c == '.' || c == ',') {
      if (!word.empty()) out.push_back(word);
      word.clear();
    } else {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

Json per_class(const std::array<int, kSceneClassCount>& counts) {
  Json out = Json::object();
  for (SceneClass c : all_scene_classes()) out[std::string(scene_class_name(c))] = counts[static_cast<std::size_t>(c)];
  return out;
}

}  // namespace

SceneClass synth_class_of(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  std::array<int, kSceneClassCount> order{};
  std::iota(order.begin(), order.end(), 0);
  SceneRng rng = SceneRng::for_item(seed, stream + (std::uint64_t{1} << 32), index / kSceneClassCount);
  rng.shuffle(std::span<int>(order));
  return static_cast<SceneClass>(order[index % kSceneClassCount]);
}

int synth_train_caption_choice(std::uint64_t seed, std::uint64_t index) {
  return SceneRng::for_item(seed, kTrainCaptionChoiceStream, index).range(0, kCaptionsPerImage - 1);
}

std::vector<std::uint8_t> encode_scene_jpeg(const cv::Mat& rgb, int image_size, int quality) {
  if (rgb.cols == image_size && rgb.rows == image_size) return encode_jpeg(rgb, quality);
  cv::Mat resized;
  cv::resize(rgb, resized, {image_size, image_size}, 0, 0, image_size < rgb.cols ? cv::INTER_AREA : cv::INTER_CUBIC);
  return encode_jpeg(resized, quality);
}

namespace {

// The training shards: each image with one of its captions (RS5M's sample layout), shard_size
// samples per tar, and train/sizes.json for open_clip to learn the set's size.
void write_train_shards(const SynthDatasetOptions& o, SynthDatasetSummary& summary) {
  std::unique_ptr<TarWriter> shard;
  Json sizes = Json::object();
  int in_shard = 0;
  const auto finish_shard = [&] {
    shard->close();
    summary.shard_bytes += shard->bytes_written();
    sizes[shard->path().filename().string()] = in_shard;
    log::debug("wrote {} ({} samples)", shard->path().string(), in_shard);
    shard.reset();
  };
  for (int i = 0; i < o.train; ++i) {
    if (i % o.shard_size == 0) {
      if (shard) finish_shard();
      summary.shards.push_back(o.out / "train" / fmt::format("synth-train-{:04d}.tar", i / o.shard_size));
      shard = std::make_unique<TarWriter>(summary.shards.back());
      in_shard = 0;
    }
    const auto index = static_cast<std::uint64_t>(i);
    const SceneClass cls = synth_class_of(o.seed, kTrainStream, index);
    const Scene scene = generate_scene(cls, {o.seed, kTrainStream, index});
    const std::string& caption = scene.captions[static_cast<std::size_t>(synth_train_caption_choice(o.seed, index))];
    const std::string key = fmt::format("{:08d}", i);
    shard->add(key + ".img_content", encode_scene_jpeg(scene.image, o.image_size, o.jpeg_quality));
    shard->add(key + ".img_name", as_bytes(fmt::format("{}_{:08d}.jpg", scene_class_name(cls), i)));
    shard->add(key + ".caption", as_bytes(caption));
    ++summary.train[static_cast<std::size_t>(cls)];
    ++in_shard;
  }
  if (shard) finish_shard();
  if (o.train > 0) write_file_atomic(o.out / "train" / "sizes.json", sizes.dump(2) + "\n");
}

// The zero-shot classification set: test/imagefolder/<class>/NNNNN.jpg.
void write_zero_shot_set(const SynthDatasetOptions& o, SynthDatasetSummary& summary) {
  for (int i = 0; i < o.test; ++i) {
    const auto index = static_cast<std::uint64_t>(i);
    const SceneClass cls = synth_class_of(o.seed, kZeroShotStream, index);
    const Scene scene = generate_scene(cls, {o.seed, kZeroShotStream, index});
    const fs::path dir = o.out / "test" / "imagefolder" / std::string(scene_class_name(cls));
    fs::create_directories(dir);
    const auto jpeg = encode_scene_jpeg(scene.image, o.image_size, o.jpeg_quality);
    write_bytes(dir / fmt::format("{:05d}.jpg", i), jpeg);
    summary.test_bytes += jpeg.size();
    ++summary.zero_shot[static_cast<std::size_t>(cls)];
  }
}

// The retrieval set: test/images/ and test/captions.json, Karpathy-style (the layout of RSICD's
// dataset_rsicd.json), with every caption of every image.
void write_retrieval_set(const SynthDatasetOptions& o, SynthDatasetSummary& summary) {
  const fs::path image_dir = o.out / "test" / "images";
  fs::create_directories(image_dir);
  Json images = Json::array();
  int sentid = 0;
  for (int i = 0; i < o.test; ++i) {
    const auto index = static_cast<std::uint64_t>(i);
    const SceneClass cls = synth_class_of(o.seed, kCaptionTestStream, index);
    const Scene scene = generate_scene(cls, {o.seed, kCaptionTestStream, index});
    const std::string filename = fmt::format("{}_{:05d}.jpg", scene_class_name(cls), i);
    const auto jpeg = encode_scene_jpeg(scene.image, o.image_size, o.jpeg_quality);
    write_bytes(image_dir / filename, jpeg);
    summary.test_bytes += jpeg.size();
    Json sentences = Json::array(), sentids = Json::array();
    for (const auto& caption : scene.captions) {
      sentences.push_back({{"tokens", tokens(caption)}, {"raw", caption}, {"imgid", i}, {"sentid", sentid}});
      sentids.push_back(sentid++);
    }
    images.push_back({{"filename", filename},
                      {"filepath", "images"},
                      {"imgid", i},
                      {"split", "test"},
                      {"sentids", sentids},
                      {"sentences", sentences}});
    ++summary.caption_test[static_cast<std::size_t>(cls)];
  }
  const std::string json = Json{{"images", images}, {"dataset", "rsclip-synth"}}.dump(1) + "\n";
  write_file_atomic(o.out / "test" / "captions.json", json);
  summary.test_bytes += json.size();
}

// synth.json: the options that determine the dataset, its classes, and what each set holds.
Json dataset_manifest(const SynthDatasetOptions& o, const SynthDatasetSummary& summary) {
  Json manifest = {{"generator", "rsclip synth"},
                   {"format_version", 1},
                   {"seed", o.seed},
                   {"image_size", o.image_size},
                   {"jpeg_quality", o.jpeg_quality}};
  Json classes = Json::array();
  for (SceneClass c : all_scene_classes()) classes.push_back(scene_class_name(c));
  manifest["classes"] = classes;
  Json shard_names = Json::array();
  for (const auto& s : summary.shards) shard_names.push_back(fs::relative(s, o.out).generic_string());
  manifest["train"] = {{"samples", o.train},
                       {"shard_size", o.shard_size},
                       {"shards", shard_names},
                       {"per_class", per_class(summary.train)}};
  manifest["test"] = {{"images_per_set", o.test},
                      {"imagefolder", "test/imagefolder"},
                      {"captions", "test/captions.json"},
                      {"zero_shot_per_class", per_class(summary.zero_shot)},
                      {"caption_test_per_class", per_class(summary.caption_test)}};
  return manifest;
}

}  // namespace

SynthDatasetSummary write_synth_dataset(const SynthDatasetOptions& o) {
  validate(o);
  prepare_output(o);
  const auto start = std::chrono::steady_clock::now();
  SynthDatasetSummary summary;
  write_train_shards(o, summary);
  write_zero_shot_set(o, summary);
  if (o.test > 0) write_retrieval_set(o, summary);
  write_file_atomic(o.out / "synth.json", dataset_manifest(o, summary).dump(2) + "\n");
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace rsclip::data
