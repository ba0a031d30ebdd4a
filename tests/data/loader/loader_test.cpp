#include "data/loader/loader.h"

#include <map>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/base/error.h"
#include "tests/data/loader/loader_fixture.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {

namespace fs = std::filesystem;
using testing::BytesProcessor;
using testing::collect;
using testing::Collected;
using testing::make_tar;
using testing::TarMember;

void expect_same(const Collected& a, const Collected& b) {
  ASSERT_EQ(a.keys, b.keys);
  ASSERT_EQ(a.images.size(), b.images.size());
  for (std::size_t i = 0; i < a.images.size(); ++i) {
    EXPECT_TRUE(torch::equal(a.images[i], b.images[i])) << "images of batch " << i;
    EXPECT_TRUE(torch::equal(a.tokens[i], b.tokens[i])) << "tokens of batch " << i;
  }
}

TEST(Loader, OnePassInShardOrderWithoutShuffle) {
  const auto dir = testing::scratch_dir();
  testing::write_shards(dir, 3, 10);
  auto o = testing::small_options(dir, 3);
  o.shuffle_buffer = 0;
  o.shuffle_shards = false;
  Loader loader(o, BytesProcessor::spec());
  EXPECT_EQ(loader.batches_per_epoch(), -1);
  loader.start_epoch(0);
  const auto c = collect(loader);
  std::vector<std::string> expected;
  for (int s = 0; s < 3; ++s)
    for (int i = 0; i < 10; ++i) expected.push_back(testing::sample_key(s, i));
  EXPECT_EQ(c.keys, expected);
  EXPECT_EQ(c.sizes, (std::vector<std::int64_t>{8, 8, 8, 6}));
  EXPECT_EQ(c.images[0].sizes(), (std::vector<std::int64_t>{8, 3, 4, 4}));
  EXPECT_EQ(c.tokens[0].scalar_type(), torch::kInt64);
  EXPECT_EQ(c.tokens[0][0][0].item<std::int64_t>(), 'c');  // "caption ..."
  EXPECT_EQ(loader.faults().good, 30);
  EXPECT_EQ(loader.faults().bad_samples(), 0);
  EXPECT_FALSE(loader.next().has_value());
  // A second epoch, same order (no shuffle), counters start again.
  loader.start_epoch(1);
  EXPECT_EQ(collect(loader).keys, expected);
}

// Shards with one fault of every kind (and good samples around them).
std::string write_faulty_shards(const fs::path& dir) {
  const auto good = [](const std::string& k) {
    return std::vector<TarMember>{{k + ".jpg", "image " + k}, {k + ".txt", "caption " + k}};
  };
  const auto join = [](std::vector<std::vector<TarMember>> parts) {
    std::vector<TarMember> out;
    for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  testing::write_file(dir / "f-0.tar", make_tar(join({good("a0"), good("a1"), good("a2"), good("a3"), good("a4")})));
  // Truncated inside the image of its fourth sample: three samples survive.
  const auto t = make_tar(join({good("b0"), good("b1"), good("b2"), {{"b3.jpg", std::string(3000, 'x')}}, good("b4")}));
  testing::write_file(dir / "f-1.tar", t.substr(0, t.find(std::string(3000, 'x')) + 1000));
  testing::write_file(dir / "f-2.tar", make_tar(join({{{"c0.jpg", "BAD jpeg bytes"}, {"c0.txt", "garbage image"}},
                                                      good("c1"),
                                                      good("c2"),
                                                      {{"c3.jpg", "HUGE image"}, {"c3.txt", "too large"}}})));
  testing::write_file(dir / "f-3.tar", make_tar(join({{{"d0.jpg", "i"}, {"d0.txt", "  \n"}},
                                                      {{"d1.txt", "no image"}},
                                                      {{"d2.jpg", "no caption"}},
                                                      {{"d3.jpg", "i"}, {"d3.txt", "caf\xe9 latin-1"}},
                                                      good("d4")})));
  testing::write_file(dir / "f-4.tar", "");
  auto c = make_tar(join({good("e0"), good("e1"), good("e2")}));
  c[512 * 8 + 148] ^= 0x11;  // header of e2.jpg (each member: a header and one data block)
  testing::write_file(dir / "f-5.tar", c);
  return (dir / "f-{0..6}.tar").string();  // f-6.tar does not exist
}

TEST(Loader, FaultInjectionCountsEveryKindExactly) {
  const auto dir = testing::scratch_dir();
  LoaderOptions o;
  o.shards = write_faulty_shards(dir);
  o.batch_size = 4;
  o.shuffle_shards = false;
  o.shuffle_buffer = 0;
  o.max_bad_fraction = 1.0;
  o.max_bad_shards = 1.0;  // 4 of the 7 shards fail
  o.prefetch = 1;          // batch j's holes are refilled before batch j+1 starts
  Loader loader(o, BytesProcessor::spec());
  loader.start_epoch(0);
  const auto c = collect(loader);
  // c0 (undecodable) and c3 (too large) are replaced by the next samples, in row order.
  EXPECT_EQ(c.keys,
            (std::vector<std::string>{"a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "d4", "c1", "c2", "e0", "e1"}));
  const std::set<std::string> keys(c.keys.begin(), c.keys.end());
  EXPECT_EQ(keys,
            (std::set<std::string>{"a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "c1", "c2", "d4", "e0", "e1"}));
  const auto f = loader.faults();
  std::printf("  %s\n", f.summary().c_str());
  EXPECT_EQ(f.good, 13);
  EXPECT_EQ(f[Fault::undecodable_image], 1);
  EXPECT_EQ(f[Fault::oversized_image], 1);
  EXPECT_EQ(f[Fault::empty_text], 1);
  EXPECT_EQ(f[Fault::missing_image], 1);
  EXPECT_EQ(f[Fault::missing_text], 1);
  EXPECT_EQ(f[Fault::bad_utf8], 1);
  EXPECT_EQ(f[Fault::oversized_member], 0);
  EXPECT_EQ(f[Fault::truncated_tar], 2);  // f-1 and the zero-byte f-4
  EXPECT_EQ(f[Fault::corrupt_tar], 1);
  EXPECT_EQ(f[Fault::unreadable_shard], 1);
  EXPECT_EQ(f.bad_samples(), 6);
  EXPECT_EQ(f.shards, 7);
  EXPECT_EQ(f.shard_failures(), 4);
  EXPECT_EQ(c.sizes, (std::vector<std::int64_t>{4, 4, 4, 1}));
}

TEST(Loader, MaxBadFractionStopsARottenDataset) {
  const auto dir = testing::scratch_dir();
  LoaderOptions o;
  o.shards = write_faulty_shards(dir);
  o.batch_size = 4;
  o.max_bad_fraction = 0.2;  // 6 of 19 are bad
  o.max_bad_shards = 1.0;
  Loader loader(o, BytesProcessor::spec());
  loader.start_epoch(0);
  try {
    collect(loader);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_bad_fraction"), std::string::npos) << e.what();
  }
  EXPECT_THROW(loader.next(), Error);
}

// Shard-level faults count too: 3 of 20 shards failing is more than max_bad_shards 10 %
// (judged once 10 shards were started, and at the end of the epoch).
TEST(Loader, MaxBadShardsStopsADatasetOfRottenShards) {
  const auto dir = testing::scratch_dir();
  testing::write_shards(dir, 20, 2);
  for (int s : {4, 9, 15}) testing::write_file(dir / fmt::format("shard-{:03d}.tar", s), "not a tar at all");
  LoaderOptions o;
  o.shards = (dir / "shard-{000..019}.tar").string();
  o.batch_size = 4;
  o.shuffle_shards = false;
  o.shuffle_buffer = 0;
  {
    Loader loader(o, BytesProcessor::spec());
    loader.start_epoch(0);
    try {
      collect(loader);
      FAIL() << "expected an error";
    } catch (const Error& e) {
      // Judged once 10 shards were read: the first two failures already exceed 10 %.
      EXPECT_NE(std::string(e.what()).find("2 of 1"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("shards failed, more than max_bad_shards 10.0%"), std::string::npos)
          << e.what();
    }
  }
  o.max_bad_shards = 0.2;
  Loader loader(o, BytesProcessor::spec());
  loader.start_epoch(0);
  EXPECT_EQ(collect(loader).keys.size(), 34u);
  EXPECT_EQ(loader.faults().shards, 20);
  EXPECT_EQ(loader.faults().shard_failures(), 3);
}

// A dataset whose shards are all unreadable stops after a few, naming them, instead of
// trying every shard of the epoch.
TEST(Loader, AllShardsUnreadableStopsEarlyNamingThem) {
  const auto dir = testing::scratch_dir();
  LoaderOptions o;
  o.shards = (dir / "gone-{000..199}.tar").string();
  o.batch_size = 4;
  o.shuffle_shards = false;
  Loader loader(o, BytesProcessor::spec());
  loader.start_epoch(0);
  try {
    collect(loader);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("the first 3 shards of stream 0 of rank 0 all failed"), std::string::npos) << what;
    EXPECT_NE(what.find("gone-000.tar"), std::string::npos) << what;
    EXPECT_NE(what.find("gone-002.tar"), std::string::npos) << what;
    EXPECT_NE(what.find("shards failed 3 of 3"), std::string::npos) << what;
  }
}

// Data for the determinism and resume tests: uneven shards with bad images sprinkled in.
LoaderOptions mixed_options(const fs::path& dir) {
  for (int s = 0; s < 5; ++s) {
    std::vector<TarMember> m;
    for (int i = 0; i < 9 + 3 * s; ++i) {
      const auto key = testing::sample_key(s, i);
      m.push_back({key + ".jpg", (i % 7 == 3 ? "BAD " : "img ") + key});
      m.push_back({key + ".txt", "caption " + key});
    }
    testing::write_file(dir / ("m-" + std::to_string(s) + ".tar"), make_tar(m));
  }
  LoaderOptions o;
  o.shards = (dir / "m-{0..4}.tar").string();
  o.batch_size = 6;
  o.workers = 3;
  o.streams = 2;
  o.prefetch = 3;
  o.shuffle_buffer = 15;
  o.shuffle_initial = 4;
  o.seed = 11;
  o.max_bad_fraction = 0.5;
  return o;
}

TEST(Loader, SameBatchesWhateverTheWorkerCount) {
  const auto dir = testing::scratch_dir();
  auto o = mixed_options(dir);
  o.samples_per_epoch = 90;
  Collected first;
  for (int workers : {1, 2, 7}) {
    o.workers = workers;
    Loader loader(o, BytesProcessor::spec());
    loader.start_epoch(2);
    const auto c = collect(loader);
    EXPECT_EQ(c.sizes.size(), 15u);
    if (workers == 1)
      first = c;
    else
      expect_same(c, first);
  }
  // A different seed gives another order.
  o.seed = 12;
  Loader other(o, BytesProcessor::spec());
  other.start_epoch(2);
  EXPECT_NE(collect(other).keys, first.keys);
}

// N batches, state through JSON, a new loader, the rest == one uninterrupted run; over two
// epochs, in both epoch modes.
void check_resume(const LoaderOptions& o, const std::vector<std::int64_t>& cut_points) {
  Collected full;
  std::int64_t per_epoch[2] = {0, 0};
  {
    Loader loader(o, BytesProcessor::spec());
    for (int e = 0; e < 2; ++e) {
      loader.start_epoch(e);
      auto c = collect(loader);
      per_epoch[e] = static_cast<std::int64_t>(c.sizes.size());
      full.keys.insert(full.keys.end(), c.keys.begin(), c.keys.end());
      full.images.insert(full.images.end(), c.images.begin(), c.images.end());
      full.tokens.insert(full.tokens.end(), c.tokens.begin(), c.tokens.end());
      full.sizes.insert(full.sizes.end(), c.sizes.begin(), c.sizes.end());
    }
  }
  for (std::int64_t cut : cut_points) {
    SCOPED_TRACE("cut after " + std::to_string(cut) + " batches of epoch 0");
    Collected run;
    std::string saved;
    {
      Loader a(o, BytesProcessor::spec());
      a.start_epoch(0);
      run = collect(a, cut);
      saved = a.state().to_json();
    }  // the first process is gone
    Loader b(o, BytesProcessor::spec());
    b.restore(LoaderState::from_json(saved));
    auto rest = collect(b);
    b.start_epoch(1);
    auto second = collect(b);
    for (const auto* part : {&rest, &second}) {
      run.keys.insert(run.keys.end(), part->keys.begin(), part->keys.end());
      run.images.insert(run.images.end(), part->images.begin(), part->images.end());
      run.tokens.insert(run.tokens.end(), part->tokens.begin(), part->tokens.end());
    }
    expect_same(run, full);
    EXPECT_EQ(b.faults().good + 0, b.state().faults().good);
  }
  std::printf("  resume equal at %zu cut points (%lld + %lld batches)\n", cut_points.size(),
              static_cast<long long>(per_epoch[0]), static_cast<long long>(per_epoch[1]));
}

TEST(Loader, ResumeIsExactWithBatchQuotaAndPasses) {
  const auto dir = testing::scratch_dir();
  auto o = mixed_options(dir);
  o.samples_per_epoch = 130;  // more than the 75 samples: streams start second passes
  check_resume(o, {0, 1, 2, 4, 9, 13, 21, 22});
}

TEST(Loader, ResumeIsExactInOnePassEpochs) {
  const auto dir = testing::scratch_dir();
  auto o = mixed_options(dir);
  o.batch_size = 5;
  check_resume(o, {0, 3, 6, 10, 11});
}

TEST(Loader, ResumeKeepsFaultCountersExact) {
  const auto dir = testing::scratch_dir();
  LoaderOptions o;
  o.shards = write_faulty_shards(dir);
  o.batch_size = 3;
  o.max_bad_fraction = 1.0;
  o.max_bad_shards = 1.0;
  o.shuffle_buffer = 4;
  o.shuffle_initial = 2;
  Loader full(o, BytesProcessor::spec());
  full.start_epoch(0);
  const auto all = collect(full);
  const auto total = full.faults();
  for (std::int64_t cut : {1, 2, 3}) {
    Loader a(o, BytesProcessor::spec());
    a.start_epoch(0);
    auto first = collect(a, cut);
    Loader b(o, BytesProcessor::spec());
    b.restore(LoaderState::from_json(a.state().to_json()));
    auto rest = collect(b);
    first.keys.insert(first.keys.end(), rest.keys.begin(), rest.keys.end());
    EXPECT_EQ(first.keys, all.keys) << "cut " << cut;
    EXPECT_EQ(b.faults().to_json(), total.to_json()) << "cut " << cut;
  }
}

TEST(Loader, RanksAndStreamsSeeEverySampleOncePerEpoch) {
  const auto dir = testing::scratch_dir();
  testing::write_shards(dir, 16, 10);
  auto o = testing::small_options(dir, 16);
  o.batch_size = 5;
  o.streams = 2;
  o.samples_per_epoch = 160;
  for (std::int64_t epoch : {0, 1}) {
    std::multiset<std::string> seen;
    for (int rank = 0; rank < 4; ++rank) {
      Loader loader(o, BytesProcessor::spec(), rank, 4);
      EXPECT_EQ(loader.batches_per_epoch(), 8);
      loader.start_epoch(epoch);
      const auto c = collect(loader);
      EXPECT_EQ(c.sizes.size(), 8u);
      seen.insert(c.keys.begin(), c.keys.end());
    }
    EXPECT_EQ(seen.size(), 160u);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 160u) << "a sample repeats in epoch " << epoch;
  }
}

TEST(Loader, EqualBatchCountsOrClearErrors) {
  const auto dir = testing::scratch_dir();
  testing::write_shards(dir, 3, 7);
  auto o = testing::small_options(dir, 3);
  try {
    Loader loader(o, BytesProcessor::spec(), 3, 4);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gets no shards"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Loader(o, BytesProcessor::spec(), 0, 2), Error);  // epoch length unknown
  o.resampled = true;
  EXPECT_THROW(Loader(o, BytesProcessor::spec()), Error);
  // Ranks with unequal data still yield equal batch counts (a short rank starts a new pass).
  o.resampled = false;
  o.samples_per_epoch = 40;
  for (int rank = 0; rank < 2; ++rank) {
    Loader loader(o, BytesProcessor::spec(), rank, 2);
    loader.start_epoch(0);
    EXPECT_EQ(collect(loader).sizes, (std::vector<std::int64_t>{8, 8, 8})) << "rank " << rank;
  }
  // sizes.json gives the epoch length as open_clip reads it.
  testing::write_file(dir / "sizes.json", R"({"shard-000.tar": 7, "shard-001.tar": 7, "shard-002.tar": 7})");
  o.samples_per_epoch = 0;
  EXPECT_EQ(Loader(o, BytesProcessor::spec(), 0, 2).batches_per_epoch(), 2);
}

TEST(Loader, ResampledSourcesByWeight) {
  const auto dir = testing::scratch_dir();
  testing::write_shards(dir, 6, 10);
  LoaderOptions o;
  o.sources = {{(dir / "shard-00{0..1}.tar").string(), 0.8}, {(dir / "shard-00{2..5}.tar").string(), 0.2}};
  o.resampled = true;
  o.samples_per_epoch = 800;
  o.batch_size = 10;
  o.streams = 3;
  o.shuffle_buffer = 30;
  Loader loader(o, BytesProcessor::spec());
  loader.start_epoch(0);
  const auto c = collect(loader);
  EXPECT_EQ(c.keys.size(), 800u);
  double first = 0;
  for (const auto& k : c.keys) first += (k.starts_with("s0/") || k.starts_with("s1/")) ? 1 : 0;
  EXPECT_NEAR(first / 800, 0.8, 0.1);
  const auto saved = loader.state();
  EXPECT_EQ(saved.next_batch, 80);
}

TEST(Loader, PipeSourcesReadLikeFiles) {
  const auto dir = testing::scratch_dir();
  testing::write_shards(dir, 2, 5);
  auto o = testing::small_options(dir, 2);
  o.shuffle_buffer = 0;
  o.shuffle_shards = false;
  Loader files(o, BytesProcessor::spec());
  files.start_epoch(0);
  o.shards = "pipe:cat " + (dir / "shard-00{0,1}.tar").string();
  Loader pipes(o, BytesProcessor::spec());
  pipes.start_epoch(0);
  expect_same(collect(pipes), collect(files));
}

TEST(LoaderState, RejectsDamagedOrForeignStates) {
  EXPECT_THROW(LoaderState::from_json("not json"), Error);
  EXPECT_THROW(LoaderState::from_json(R"({"version": 99})"), Error);
  EXPECT_THROW(LoaderState::from_json(R"({"version": 1, "epoch": 0})"), Error);
  const auto dir = testing::scratch_dir();
  testing::write_shards(dir, 2, 5);
  auto o = testing::small_options(dir, 2);
  Loader a(o, BytesProcessor::spec());
  a.start_epoch(0);
  collect(a, 1);
  const auto saved = a.state().to_json();
  EXPECT_EQ(LoaderState::from_json(saved).to_json(), saved);
  o.seed = 99;
  Loader b(o, BytesProcessor::spec());
  try {
    b.restore(LoaderState::from_json(saved));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("seed"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rsclip::data
