// The dataset `rsclip synth` writes from the synthetic scenes (data/synth/synth_scenes.h):
//
//   OUT/train/synth-train-0000.tar ...   webdataset shards in RS5M layout: per sample
//                                        KEY.img_content (JPEG), KEY.img_name (utf-8 file
//                                        name), KEY.caption (one of the image's captions)
//   OUT/train/sizes.json                 {"synth-train-0000.tar": samples, ...} (open_clip's
//                                        way to learn a shard set's size)
//   OUT/test/imagefolder/<class>/NNNNN.jpg   zero-shot classification set (ImageFolder)
//   OUT/test/images/<class>_NNNNN.jpg +      retrieval set: Karpathy-style caption JSON as
//   OUT/test/captions.json                   RSICD's dataset_rsicd.json, 5 captions/image
//   OUT/synth.json                       what was generated (seed, counts, classes, shards)
//
// Training, zero-shot and caption sets come from different SceneRng streams, so no test
// image is ever a training image. Every set is balanced over the classes (each run of
// kSceneClassCount consecutive items holds every class once, in a seeded order).
// Same options -> byte-identical files.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include <opencv2/core.hpp>

#include "data/synth/synth_scenes.h"

namespace rsclip::data {

// SceneRng streams of the three sets (and of the choice of the training caption).
inline constexpr std::uint64_t kTrainStream = 1;
inline constexpr std::uint64_t kZeroShotStream = 2;
inline constexpr std::uint64_t kCaptionTestStream = 3;
inline constexpr std::uint64_t kTrainCaptionChoiceStream = 4;

struct SynthDatasetOptions {
  std::filesystem::path out;
  std::uint64_t seed = 0;
  int train = 1000;       // training images
  int test = 260;         // images in each of the two test sets
  int shard_size = 1000;  // training samples per tar shard
  int image_size = 256;   // side of the written JPEGs (scenes are drawn at 256 and resized)
  int jpeg_quality = 90;
  bool overwrite = false;  // replace OUT/train, OUT/test and OUT/synth.json if present
};

struct SynthDatasetSummary {
  std::array<int, kSceneClassCount> train{}, zero_shot{}, caption_test{};
  std::vector<std::filesystem::path> shards;
  std::uint64_t shard_bytes = 0, test_bytes = 0;
  double seconds = 0;
};

// The class of item `index` of a set: balanced, in a seeded order within each run of
// kSceneClassCount items.
SceneClass synth_class_of(std::uint64_t seed, std::uint64_t stream, std::uint64_t index);

// Which of a training image's kCaptionsPerImage captions goes into its shard sample.
int synth_train_caption_choice(std::uint64_t seed, std::uint64_t index);

// RGB scene -> JPEG bytes at `image_size` (OpenCV encodes BGR; the conversion is done here).
std::vector<std::uint8_t> encode_scene_jpeg(const cv::Mat& rgb, int image_size, int quality);

// Writes the whole dataset; rsclip::Error for bad options or an output directory that
// already holds a dataset (unless overwrite).
SynthDatasetSummary write_synth_dataset(const SynthDatasetOptions& options);

}  // namespace rsclip::data
