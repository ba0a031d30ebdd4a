// Packs image-caption pairs into webdataset shards (`rsclip shards --from ...`), as
// webdataset's ShardWriter does, so that Python webdataset and open_clip read them unchanged:
//
//   OUT/PREFIX-000000.tar, PREFIX-000001.tar, ...   (ShardWriter's "%06d" pattern)
//   OUT/sizes.json                                   {"PREFIX-000000.tar": count, ...}, the
//                                                    sample counts open_clip_train's
//                                                    get_dataset_size (and our loader) read
//
// A sample is written as members KEY.<image ext>, KEY.json, KEY.txt (ShardWriter writes a
// sample's fields in sorted order), or with rs5m_names as RS5M's KEY.caption,
// KEY.img_content, KEY.img_name. Keys are the zero-padded sample number (no dots, so
// webdataset's key rule cannot split them); the json member keeps the source path, and for
// ImageFolder the class. Image bytes are copied as they are (no re-encoding). A new shard
// starts before a sample when the current one holds max_count samples or max_size bytes.
// Shards are written atomically and deterministically (tar_writer.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rsclip::data {

struct PackItem {
  std::filesystem::path image;
  std::string caption;
  std::string class_name;  // ImageFolder only
};

struct PackOptions {
  std::filesystem::path out_dir;
  std::string prefix = "shard";
  std::int64_t max_count = 100000;  // webdataset ShardWriter's defaults
  std::int64_t max_size = 3'000'000'000;
  bool rs5m_names = false;
  std::filesystem::path relative_to;  // source paths in the json member are relative to this
};

struct PackResult {
  std::vector<std::filesystem::path> shards;
  std::vector<std::int64_t> counts;
  std::uint64_t bytes = 0;
};

// rsclip::Error when an image cannot be read or a caption is not UTF-8 (naming it).
PackResult pack_shards(const std::vector<PackItem>& items, const PackOptions& options);

// Items for `rsclip shards --from`:
//   imagefolder ROOT: ROOT/<class>/<image>, caption = `caption_template` with "{}" replaced by
//     the class's prompt name ('_' and '/' as spaces, lower-cased, as GeoRSCLIP's zero-shot);
//   karpathy FILE.json: one item per caption of the images of `split` ("" = all);
//   csv FILE.csv: one item per row (filename,title; `encoding` for gb18030 lists).
// `image_root` overrides where the images of a caption list are (default: beside it).
struct PackSource {
  std::string kind;  // imagefolder | karpathy | csv
  std::filesystem::path path;
  std::filesystem::path image_root;
  std::string split = "train";
  std::string encoding = "utf-8";
  std::string caption_template = "a satellite image of {}.";
};
std::vector<PackItem> pack_items(const PackSource& source);

// Fisher-Yates with Python's Random(seed) (core/base/py_random.h), so a packed dataset is not ordered
// by class or by image.
void shuffle_items(std::vector<PackItem>& items, std::uint64_t seed);

}  // namespace rsclip::data
