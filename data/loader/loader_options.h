// The loader's settings (the `data:` section of a training config, with the image and
// tokenizer settings DataConfig adds); no torch here, so config readers can include it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/shards/shard_spec.h"

namespace rsclip::data {

struct ShardSourceConfig {
  std::string shards;  // a SOURCE pattern (shard_spec.h), without "::"
  double weight = 1.0;
  template <class V>
  void visit(V& v) {
    v("shards", shards);
    v("weight", weight);
  }
};

// The loader's settings (the `data:` section of a training config, with the image and
// tokenizer settings DataConfig adds).
struct LoaderOptions {
  std::string shards;                      // SPEC (shard_spec.h); or:
  std::vector<ShardSourceConfig> sources;  // the list form
  std::int64_t batch_size = 256;           // per rank
  int workers = 4;                         // decode/augment/tokenize threads per rank
  int streams = 1;                         // shard streams per rank (webdataset "workers")
  int prefetch = 2;                        // batches decoded ahead of the consumer
  std::int64_t shuffle_buffer = 5000;      // samples per stream (0: no sample shuffle)
  std::int64_t shuffle_initial = 1000;     // samples buffered before the first pick
  bool shuffle_shards = true;              // seeded per-epoch shard order
  std::int64_t seed = 0;
  bool resampled = false;              // shards drawn with replacement (weights)
  std::int64_t samples_per_epoch = 0;  // all ranks together; 0: sizes.json/__len__, or one pass
  std::string image_fields = "jpg;jpeg;png;webp;tif;tiff;img_content";
  std::string text_fields = "txt;caption";
  std::string json_fields = "json";
  std::int64_t max_member_bytes = 64 << 20;  // larger image/caption members are skipped
  double max_bad_fraction = 0.05;            // bad samples / samples seen, beyond which it stops
  double max_bad_shards = 0.1;               // failed shards / shards started, beyond which it stops

  template <class V>
  void visit(V& v) {
    v("shards", shards);
    v("sources", sources);
    v("batch_size", batch_size);
    v("workers", workers);
    v("streams", streams);
    v("prefetch", prefetch);
    v("shuffle_buffer", shuffle_buffer);
    v("shuffle_initial", shuffle_initial);
    v("shuffle_shards", shuffle_shards);
    v("seed", seed);
    v("resampled", resampled);
    v("samples_per_epoch", samples_per_epoch);
    v("image_fields", image_fields);
    v("text_fields", text_fields);
    v("json_fields", json_fields);
    v("max_member_bytes", max_member_bytes);
    v("max_bad_fraction", max_bad_fraction);
    v("max_bad_shards", max_bad_shards);
  }
  void validate() const;
  ShardList shard_list() const;
};

}  // namespace rsclip::data
