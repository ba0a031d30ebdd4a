#include "data/loader/pipeline.h"

#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {

using nlohmann::json;

// Every Python reference of this file, computed in one process on first use.
const std::vector<std::vector<std::string>> kCommands = {{"random", "0", "40"},
                                                         {"random", "1", "40"},
                                                         {"random", "42", "40"},
                                                         {"random", "4294967295", "40"},
                                                         {"random", "4294967296", "40"},
                                                         {"random", "18446744073709551615", "40"},
                                                         {"shuffle", "123", "10", "3", "100"},
                                                         {"shuffle", "123", "1000", "100", "250"},
                                                         {"shuffle", "123", "5", "10", "37"},
                                                         {"shuffle", "123", "2", "0", "9"},
                                                         {"shuffle", "123", "7", "7", "0"},
                                                         {"shardshuffle", "0", "0", "128"},
                                                         {"shardshuffle", "42", "3", "64"},
                                                         {"shardshuffle", "7", "1", "2500"}};

json reference(const std::vector<std::string>& args) {
  static const json all = [] {
    return json::parse(
        testing::run_python("scripts/reference/webdataset_reference.py", {"batch", json(kCommands).dump()}));
  }();
  for (std::size_t i = 0; i < kCommands.size(); ++i)
    if (kCommands[i] == args) return all[i];
  ADD_FAILURE() << "no reference computed for " << json(args).dump();
  return json();
}

void py_random_equals_python_random() {
  SCOPED_TRACE("PyRandom");
  for (std::uint64_t seed : {0ULL, 1ULL, 42ULL, 4294967295ULL, 4294967296ULL, 18446744073709551615ULL}) {
    const auto ref = reference({"random", std::to_string(seed), "40"});
    PyRandom r(seed);
    for (const auto& v : ref["bits32"]) EXPECT_EQ(r.getrandbits(32), v.get<std::uint64_t>()) << "seed " << seed;
    for (const auto& v : ref["bits7"]) EXPECT_EQ(r.getrandbits(7), v.get<std::uint64_t>()) << "seed " << seed;
    for (const auto& v : ref["bits64"]) EXPECT_EQ(std::to_string(r.getrandbits(64)), v.get<std::string>());
    std::uint64_t k = 0;
    for (const auto& v : ref["below"]) EXPECT_EQ(r.randbelow(++k), v.get<std::uint64_t>()) << "seed " << seed;
    for (const auto& v : ref["random"]) EXPECT_EQ(r.random(), v.get<double>()) << "seed " << seed;
  }
}

void shuffle_equals_webdataset_shuffle() {
  SCOPED_TRACE("_shuffle");
  for (const auto& [bufsize, initial, n] :
       std::vector<std::tuple<int, int, int>>{{10, 3, 100}, {1000, 100, 250}, {5, 10, 37}, {2, 0, 9}, {7, 7, 0}}) {
    const auto ref = reference({"shuffle", "123", std::to_string(bufsize), std::to_string(initial), std::to_string(n)});
    std::vector<std::uint32_t> items(n);
    for (int i = 0; i < n; ++i) items[i] = i;
    EXPECT_EQ(detshuffle(items, bufsize, initial, 123), ref.get<std::vector<std::uint32_t>>())
        << "bufsize " << bufsize << " initial " << initial << " n " << n;
  }
}

void shard_order_equals_open_clip_detshuffle2() {
  SCOPED_TRACE("detshuffle2");
  for (const auto& [seed, epoch, n] : std::vector<std::tuple<int, int, int>>{{0, 0, 128}, {42, 3, 64}, {7, 1, 2500}}) {
    const auto ref = reference({"shardshuffle", std::to_string(seed), std::to_string(epoch), std::to_string(n)});
    ShardList list;
    list.sources.push_back({"x", 1.0, {}});
    for (int i = 0; i < n; ++i) list.sources[0].urls.push_back("s" + std::to_string(i));
    PipelineOptions o;
    o.seed = seed;
    ShardPlan plan(list, o);
    auto seq = plan.sequence(epoch, 0, 0);
    ASSERT_EQ(seq.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) EXPECT_EQ(*seq.at(i), ref[i].get<std::uint32_t>()) << "position " << i;
  }
}

// One test case for all Python comparisons (CTest runs each case in its own process, and
// the Python run is slow).
TEST(Reference, EqualsPythonRandomAndShuffles) {
  py_random_equals_python_random();
  shuffle_equals_webdataset_shuffle();
  shard_order_equals_open_clip_detshuffle2();
}

ShardList numbered(int n) {
  ShardList list;
  list.sources.push_back({"x", 1.0, {}});
  for (int i = 0; i < n; ++i) list.sources[0].urls.push_back("s" + std::to_string(i));
  return list;
}

TEST(ShardPlan, RanksAndStreamsCoverEveryShardOncePerEpoch) {
  for (const auto& [n, world, streams] : std::vector<std::tuple<int, int, int>>{{128, 8, 4}, {13, 3, 2}, {5, 5, 3}}) {
    for (std::int64_t epoch : {0, 1}) {
      std::multiset<std::uint32_t> seen;
      for (int rank = 0; rank < world; ++rank) {
        PipelineOptions o;
        o.seed = 5;
        o.rank = rank;
        o.world = world;
        o.streams = streams;
        ShardPlan plan(numbered(n), o);
        for (int s = 0; s < plan.streams(); ++s) {
          auto seq = plan.sequence(epoch, s, 0);
          for (std::size_t i = 0; i < seq.size(); ++i) seen.insert(*seq.at(i));
          EXPECT_FALSE(seq.at(seq.size()).has_value());
        }
      }
      ASSERT_EQ(seen.size(), static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) EXPECT_EQ(seen.count(i), 1u) << "shard " << i;
    }
  }
  // Different epochs and passes give different orders.
  ShardPlan plan(numbered(64), {});
  auto e0 = plan.sequence(0, 0, 0), e1 = plan.sequence(1, 0, 0), p1 = plan.sequence(0, 0, 1);
  std::vector<std::uint32_t> a, b, c;
  for (std::size_t i = 0; i < 64; ++i) a.push_back(*e0.at(i)), b.push_back(*e1.at(i)), c.push_back(*p1.at(i));
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
}

TEST(ShardPlan, ErrorsForRanksWithoutShardsAndWeightsWithoutResampling) {
  PipelineOptions o;
  o.world = 4;
  o.rank = 3;
  try {
    ShardPlan plan(numbered(3), o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 3 of 4 gets no shards"), std::string::npos) << e.what();
  }
  auto weighted = numbered(4);
  weighted.sources.push_back({"y", 3.0, {"t0", "t1"}});
  EXPECT_THROW(ShardPlan(weighted, PipelineOptions{}), Error);
}

TEST(ShardPlan, ResampledDrawsFollowWeights) {
  auto list = numbered(10);
  list.sources[0].weight = 0.25;
  list.sources.push_back({"y", 0.75, {"t0", "t1"}});
  PipelineOptions o;
  o.resampled = true;
  o.streams = 3;
  ShardPlan plan(list, o);
  EXPECT_EQ(plan.streams(), 3);
  auto seq = plan.sequence(0, 1, 0);
  EXPECT_FALSE(seq.finite());
  int second = 0;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) second += *seq.at(i) >= 10 ? 1 : 0;
  EXPECT_NEAR(second / static_cast<double>(draws), 0.75, 0.02);
  // Replayable: the same (epoch, stream) draws the same shards.
  auto again = plan.sequence(0, 1, 0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(*again.at(i), *seq.at(i));
  auto other = plan.sequence(0, 2, 0);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += *other.at(i) == *seq.at(i);
  EXPECT_LT(same, 80);
}

}  // namespace
}  // namespace rsclip::data
