// The sample order: which shards each rank and stream reads in an epoch, and the shuffle
// buffer between the tar reader and the batches. Everything here is a pure function of
// (seed, epoch, rank, stream, pass) and of how many samples each shard held, so that a
// stream position can be replayed without reading any data (see loader_state.h).
//
// Non-resampled epochs (open_clip_train get_wds_dataset, is_train):
//   1. all shards, sources concatenated, shuffled by webdataset's _shuffle with buffer 2000,
//      initial 500 and Python's Random(seed + epoch) — detshuffle2, so the order equals
//      open_clip's for the same seed and epoch;
//   2. split by rank: order[rank::world] (wds.split_by_node);
//   3. split by stream: that[stream::streams] (wds.split_by_worker; our "streams" are
//      open_clip's dataloader workers: shard readers, each with its own shuffle buffer).
//   A stream that runs out before the epoch's batch quota is met starts another pass over
//   its shards in a new order (seed mixed with the pass number); its shuffle buffer drains
//   between passes, so an epoch that fits in one pass sees every sample exactly once.
// Resampled epochs (ResampledShards2): each stream draws shards with replacement, a source
//   chosen by weight then a uniform shard of it, from a generator seeded by
//   (seed, epoch, rank, stream); one infinite pass.
// Sample shuffle (webdataset filters._shuffle, which open_clip applies with buffer 5000,
//   initial 1000): each incoming sample is appended; while the buffer is below its size a
//   second one is appended; once it holds `initial` samples, a random one is yielded
//   (swapped with the last and popped); at the end of the input the rest is drained in
//   random order. The generator is Python's Random seeded by (seed, epoch, rank, stream, pass).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/base/py_random.h"
#include "data/shards/shard_spec.h"
#include "data/shards/webdataset.h"

namespace rsclip::data {

struct PipelineOptions {
  std::uint64_t seed = 0;
  int rank = 0, world = 1;
  int streams = 1;  // shard streams per rank (capped at the rank's shard count)
  bool resampled = false;
  bool shuffle_shards = true;         // false: shards in spec order (evaluation, parity tests)
  std::size_t shuffle_buffer = 5000;  // 0 or 1: no sample shuffle
  std::size_t shuffle_initial = 1000;
};

// webdataset's shard shuffle constants in open_clip_train (_SHARD_SHUFFLE_SIZE/_INITIAL).
inline constexpr std::size_t kShardShuffleSize = 2000;
inline constexpr std::size_t kShardShuffleInitial = 500;

// webdataset filters._shuffle as a pull-driven state machine. `Source` is a callable
// `bool(T&)` that fills the next input item, false at the end (and from then on).
template <class T>
class ShuffleBuffer {
 public:
  ShuffleBuffer(std::size_t bufsize, std::size_t initial, std::uint64_t seed)
      : bufsize_(bufsize), initial_(std::min(initial, bufsize)), rng_(seed) {}

  template <class Source>
  bool next(Source&& source, T& out) {
    if (bufsize_ <= 1) return source(out);  // no shuffle: pass through, no random draws
    while (!input_done_) {
      if (!pull(source)) {
        input_done_ = true;
        break;
      }
      if (buf_.size() < bufsize_ && !pull(source)) input_done_ = true;
      if (buf_.size() >= initial_) return pick(out);
    }
    if (buf_.empty()) return false;
    return pick(out);
  }

  // Continues from a replayed state (loader_state.h): contents in order, generator, input end.
  void restore(std::vector<T> items, const PyRandom& rng, bool input_done) {
    buf_ = std::move(items);
    rng_ = rng;
    input_done_ = input_done;
  }

  std::vector<T>& items() { return buf_; }
  bool input_done() const { return input_done_; }
  PyRandom& rng() { return rng_; }

 private:
  template <class Source>
  bool pull(Source& source) {
    T item{};
    if (!source(item)) return false;
    buf_.push_back(std::move(item));
    return true;
  }
  bool pick(T& out) {
    const std::size_t k = rng_.randbelow(buf_.size());
    out = std::move(buf_[k]);
    if (k + 1 != buf_.size()) buf_[k] = std::move(buf_.back());
    buf_.pop_back();
    return true;
  }

  std::size_t bufsize_, initial_;
  PyRandom rng_;
  std::vector<T> buf_;
  bool input_done_ = false;
};

// webdataset's _shuffle applied to a whole list with Random(seed) (detshuffle2).
std::vector<std::uint32_t> detshuffle(std::vector<std::uint32_t> items, std::size_t bufsize, std::size_t initial,
                                      std::uint64_t seed);

// The shard sequence of one stream in one pass: finite (non-resampled) or drawn lazily.
class ShardSequence {
 public:
  // Index into ShardPlan::urls() of the shard at `position`; nullopt past the end.
  std::optional<std::uint32_t> at(std::size_t position);
  bool finite() const { return !draw_; }
  std::size_t size() const { return shards_.size(); }

 private:
  friend class ShardPlan;
  std::vector<std::uint32_t> shards_;
  bool draw_ = false;
  PyRandom rng_;
  std::vector<double> cumulative_;  // per source, resampled with weights
  std::vector<std::uint32_t> source_start_, source_size_;
};

class ShardPlan {
 public:
  // rsclip::Error when a rank gets no shards, or weights are given without resampling.
  ShardPlan(ShardList shards, PipelineOptions options);

  const PipelineOptions& options() const { return options_; }
  const std::vector<std::string>& urls() const { return urls_; }
  const ShardList& shards() const { return shards_; }
  // Effective stream count of this rank (options.streams capped at its shard count).
  int streams() const { return streams_; }

  ShardSequence sequence(std::int64_t epoch, int stream, std::uint32_t pass) const;

  // Seeds of the sample shuffle and of the per-sample augmentation.
  std::uint64_t shuffle_seed(std::int64_t epoch, int stream, std::uint32_t pass) const;
  std::uint64_t sample_seed(std::int64_t epoch, int stream, std::uint64_t pick) const;

 private:
  ShardList shards_;
  PipelineOptions options_;
  std::vector<std::string> urls_;
  int streams_ = 1;
};

}  // namespace rsclip::data
