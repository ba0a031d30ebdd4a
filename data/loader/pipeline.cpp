#include "data/loader/pipeline.h"

#include <algorithm>
#include <numeric>

#include <c10/util/Exception.h>

#include "core/base/error.h"
#include "core/base/log.h"

namespace rsclip::data {
namespace {

// Distinct tags keep the derived seeds of different uses apart.
constexpr std::uint64_t kTagPass = 1, kTagResample = 2, kTagShuffle = 3, kTagSample = 4;

}  // namespace

std::vector<std::uint32_t> detshuffle(std::vector<std::uint32_t> items, std::size_t bufsize, std::size_t initial,
                                      std::uint64_t seed) {
  ShuffleBuffer<std::uint32_t> buffer(bufsize, initial, seed);
  std::size_t next = 0;
  auto source = [&](std::uint32_t& out) {
    if (next >= items.size()) return false;
    out = items[next++];
    return true;
  };
  std::vector<std::uint32_t> out;
  out.reserve(items.size());
  std::uint32_t v = 0;
  while (buffer.next(source, v)) out.push_back(v);
  return out;
}

std::optional<std::uint32_t> ShardSequence::at(std::size_t position) {
  if (!draw_) return position < shards_.size() ? std::optional<std::uint32_t>(shards_[position]) : std::nullopt;
  while (shards_.size() <= position) {
    std::uint32_t source = 0;
    if (cumulative_.size() > 1) {
      // random.choices: bisect the cumulative weights at random() * total.
      const double x = rng_.random() * cumulative_.back();
      source = static_cast<std::uint32_t>(std::upper_bound(cumulative_.begin(), cumulative_.end() - 1, x) -
                                          cumulative_.begin());
    }
    const auto pick = static_cast<std::uint32_t>(rng_.randbelow(source_size_[source]));
    shards_.push_back(source_start_[source] + pick);
  }
  return shards_[position];
}

ShardPlan::ShardPlan(ShardList shards, PipelineOptions options)
    : shards_(std::move(shards)), options_(options), urls_(shards_.urls()) {
  const auto& o = options_;
  TORCH_CHECK(o.world >= 1 && o.rank >= 0 && o.rank < o.world, "bad rank ", o.rank, " of ", o.world);
  if (o.streams < 1) throw Error("must be at least 1", "data.streams");
  if (urls_.empty()) throw Error("no shards", "data.shards");
  if (urls_.size() > UINT32_MAX) throw Error("too many shards", "data.shards");
  if (shards_.weighted() && !o.resampled)
    throw Error("source weights need resampled mode", "data.shards",
                "set data.resampled: true (shards are then drawn with replacement by weight), or drop the weights");
  if (o.resampled) {
    streams_ = o.streams;
    return;
  }
  // Shards of rank r: positions r, r + world, ... of the epoch's order.
  const std::size_t n = urls_.size();
  const std::size_t rank_shards = n > static_cast<std::size_t>(o.rank) ? (n - o.rank + o.world - 1) / o.world : 0;
  if (rank_shards == 0)
    throw Error(
        "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world) + " gets no shards: only " +
            std::to_string(n) + " shard(s) for " + std::to_string(o.world) + " ranks",
        "data.shards",
        "use at least as many shards as ranks (repack with `rsclip shards --maxcount`), or set data.resampled: true");
  streams_ = static_cast<int>(std::min<std::size_t>(o.streams, rank_shards));
  if (streams_ < o.streams)
    log::info("data: {} shard(s) per rank, so {} stream(s) instead of {}", rank_shards, streams_, o.streams);
}

ShardSequence ShardPlan::sequence(std::int64_t epoch, int stream, std::uint32_t pass) const {
  const auto& o = options_;
  TORCH_CHECK(stream >= 0 && stream < streams_, "stream out of range");
  ShardSequence seq;
  if (o.resampled) {
    TORCH_CHECK(pass == 0, "resampled streams have a single pass");
    seq.draw_ = true;
    seq.rng_.seed_with(mix_seed({o.seed, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(o.rank),
                                 static_cast<std::uint64_t>(stream), kTagResample}));
    std::uint32_t start = 0;
    double total = 0;
    for (const auto& s : shards_.sources) {
      seq.source_start_.push_back(start);
      seq.source_size_.push_back(static_cast<std::uint32_t>(s.urls.size()));
      start += static_cast<std::uint32_t>(s.urls.size());
      total += s.weight;
      seq.cumulative_.push_back(total);
    }
    if (!shards_.weighted()) {  // one uniform choice over all shards, as random.choice
      seq.source_start_ = {0};
      seq.source_size_ = {static_cast<std::uint32_t>(urls_.size())};
      seq.cumulative_ = {1.0};
    }
    return seq;
  }
  std::vector<std::uint32_t> order(urls_.size());
  std::iota(order.begin(), order.end(), 0U);
  if (o.shuffle_shards) {
    // detshuffle2: Random(seed + epoch); later passes of the same epoch mix in the pass.
    const std::uint64_t seed = pass == 0 ? o.seed + static_cast<std::uint64_t>(epoch)
                                         : mix_seed({o.seed, static_cast<std::uint64_t>(epoch), pass, kTagPass});
    order = detshuffle(std::move(order), kShardShuffleSize, kShardShuffleInitial, seed);
  }
  for (std::size_t i = static_cast<std::size_t>(o.rank), j = 0; i < order.size(); i += o.world, ++j) {
    if (j % static_cast<std::size_t>(streams_) == static_cast<std::size_t>(stream)) seq.shards_.push_back(order[i]);
  }
  return seq;
}

std::uint64_t ShardPlan::shuffle_seed(std::int64_t epoch, int stream, std::uint32_t pass) const {
  return mix_seed({options_.seed, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(options_.rank),
                   static_cast<std::uint64_t>(stream), pass, kTagShuffle});
}

std::uint64_t ShardPlan::sample_seed(std::int64_t epoch, int stream, std::uint64_t pick) const {
  return mix_seed({options_.seed, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(options_.rank),
                   static_cast<std::uint64_t>(stream), pick, kTagSample});
}

}  // namespace rsclip::data
