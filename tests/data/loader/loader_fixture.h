// Test fixture for the loader: synthetic shards of tiny samples and a sample processor
// that turns bytes into deterministic numbers (image and tokenizer code are tested on
// their own; here what matters is which sample lands where, with which seed).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/loader/loader.h"
#include "tests/data/shards/tar_fixture.h"

namespace rsclip::testing {

// Image bytes starting with "BAD" are undecodable, "HUGE" too large; otherwise row values
// mix a hash of the bytes with the sample seed, tokens are the caption's first bytes.
class BytesProcessor : public data::SampleProcessor {
 public:
  static constexpr int kSize = 4, kContext = 8;
  std::optional<data::Fault> process(const data::Sample& s, std::uint64_t seed, float* image,
                                     std::int64_t* tokens) override {
    const std::string_view bytes(reinterpret_cast<const char*>(s.image.data()), s.image.size());
    if (bytes.starts_with("BAD")) return data::Fault::undecodable_image;
    if (bytes.starts_with("HUGE")) return data::Fault::oversized_image;
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
    for (int i = 0; i < 3 * kSize * kSize; ++i)
      image[i] = static_cast<float>((h >> (i % 48)) & 0xff) + static_cast<float>(seed % 997) / 1000.0f;
    for (int i = 0; i < kContext; ++i)
      tokens[i] = i < static_cast<int>(s.text.size()) ? static_cast<unsigned char>(s.text[i]) : 0;
    return std::nullopt;
  }
  static data::ProcessorSpec spec() {
    return {kSize, kContext, [] { return std::make_unique<BytesProcessor>(); }};
  }
};

inline std::string sample_key(int shard, int i) { return "s" + std::to_string(shard) + "/k" + std::to_string(i); }

// Writes `shards` shards of `per_shard` good samples each: shard-NNN.tar in dir.
inline std::vector<std::string> write_shards(const std::filesystem::path& dir, int shards, int per_shard) {
  std::vector<std::string> paths;
  for (int s = 0; s < shards; ++s) {
    std::vector<TarMember> members;
    for (int i = 0; i < per_shard; ++i) {
      const auto key = sample_key(s, i);
      members.push_back({key + ".jpg", "image of " + key});
      members.push_back({key + ".txt", "caption " + key});
    }
    char name[32];
    std::snprintf(name, sizeof name, "shard-%03d.tar", s);
    write_file(dir / name, make_tar(members));
    paths.push_back((dir / name).string());
  }
  return paths;
}

inline data::LoaderOptions small_options(const std::filesystem::path& dir, int shards) {
  data::LoaderOptions o;
  o.shards = (dir / ("shard-{000.." +
                     [&] {
                       char b[16];
                       std::snprintf(b, sizeof b, "%03d", shards - 1);
                       return std::string(b);
                     }() +
                     "}.tar"))
                 .string();
  o.batch_size = 8;
  o.workers = 2;
  o.shuffle_buffer = 20;
  o.shuffle_initial = 5;
  return o;
}

struct Collected {
  std::vector<std::string> keys;
  std::vector<torch::Tensor> images, tokens;
  std::vector<std::int64_t> sizes;
};

// Up to `max_batches` batches (all of the epoch by default).
inline Collected collect(data::Loader& loader, std::int64_t max_batches = -1) {
  Collected c;
  for (std::int64_t n = 0; max_batches < 0 || n < max_batches; ++n) {
    auto b = loader.next();
    if (!b) break;
    c.keys.insert(c.keys.end(), b->keys.begin(), b->keys.end());
    c.images.push_back(b->images.clone());
    c.tokens.push_back(b->tokens.clone());
    c.sizes.push_back(b->images.size(0));
  }
  return c;
}

}  // namespace rsclip::testing
