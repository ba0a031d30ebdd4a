#include "data/shards/shard_spec.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "tests/data/shards/tar_fixture.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {

namespace fs = std::filesystem;

TEST(BraceExpand, MatchesPythonBraceexpand) {
  const std::vector<std::string> patterns = {"rs3-train-{0000..0031}.tar",
                                             "item{1..3}",
                                             "{a..c}",
                                             "index.html{,.backup}",
                                             "python{2.{5..7},3.{2,3}}",
                                             "{07..10}",
                                             "{a..g..2}",
                                             "{4..1}",
                                             "{2..-1}",
                                             "{-05..3}",
                                             "{Z..c}",
                                             "{c..Z}",
                                             "{1\\{2,3}",
                                             "x{a}y",
                                             "{}",
                                             "a{b,c{d,e}f}g",
                                             "{0..10..3}",
                                             "{10..0..-3}",
                                             "{z..A..5}",
                                             "plain.tar",
                                             "{0..2}{a,b}",
                                             "x\\,y{1,2}",
                                             "pipe:curl -s http://h/{000..002}.tar"};
  const auto out = testing::run_python("scripts/reference/webdataset_reference.py", [&] {
    std::vector<std::string> a{"braceexpand"};
    a.insert(a.end(), patterns.begin(), patterns.end());
    return a;
  }());
  const auto ref = nlohmann::json::parse(out);
  for (const auto& p : patterns) {
    EXPECT_EQ(brace_expand(p), ref.at(p).get<std::vector<std::string>>()) << "pattern " << p;
  }
}

TEST(BraceExpand, RejectsUnbalancedAndHugeExpansions) {
  EXPECT_THROW(brace_expand("{1{2,3}"), Error);
  EXPECT_THROW(brace_expand("a}b"), Error);
  EXPECT_THROW(brace_expand("{0..9}{0..9}{0..9}", 500), Error);
  EXPECT_EQ(brace_expand("{0..9}{0..9}{0..9}").size(), 1000u);
}

TEST(ShardSpec, SourcesWeightsAndSchemes) {
  const auto list = parse_shard_spec("/d/pub11-{0..2}.tar@0.7::/d/rs3-{00..01}.tar@0.3");
  ASSERT_EQ(list.sources.size(), 2u);
  EXPECT_EQ(list.sources[0].urls, (std::vector<std::string>{"/d/pub11-0.tar", "/d/pub11-1.tar", "/d/pub11-2.tar"}));
  EXPECT_EQ(list.sources[1].urls, (std::vector<std::string>{"/d/rs3-00.tar", "/d/rs3-01.tar"}));
  EXPECT_DOUBLE_EQ(list.sources[0].weight, 0.7);
  EXPECT_DOUBLE_EQ(list.sources[1].weight, 0.3);
  EXPECT_TRUE(list.weighted());
  EXPECT_EQ(list.size(), 5u);
  EXPECT_EQ(list.urls().back(), "/d/rs3-01.tar");

  const auto pipes = parse_shard_spec("pipe:cat /x/{a,b}.tar::https://h/s-{0..1}.tar");
  EXPECT_FALSE(pipes.weighted());
  EXPECT_EQ(pipes.urls(), (std::vector<std::string>{"pipe:cat /x/a.tar", "pipe:cat /x/b.tar", "https://h/s-0.tar",
                                                    "https://h/s-1.tar"}));
  // A trailing "@number" is a weight; "@3@1" keeps a literal "@3".
  const auto at = parse_shard_spec("/d/x@3@1");
  EXPECT_EQ(at.urls(), std::vector<std::string>{"/d/x@3"});
  EXPECT_EQ(parse_shard_spec("/d/user@host.tar").urls(), std::vector<std::string>{"/d/user@host.tar"});

  EXPECT_THROW(parse_shard_spec(""), Error);
  EXPECT_THROW(parse_shard_spec("a.tar::"), Error);
  EXPECT_THROW(parse_shard_spec("a.tar@0"), Error);
  EXPECT_THROW(parse_shard_spec("a{.tar"), Error);
}

TEST(ShardSpec, GlobsExpandSortedAndMustMatch) {
  const auto dir = testing::scratch_dir();
  for (const char* n : {"b-1.tar", "a-2.tar", "a-1.tar", "c.txt"}) testing::write_file(dir / n, "x");
  const auto list = parse_shard_spec((dir / "*.tar").string() + "::file:" + (dir / "c.*").string());
  EXPECT_EQ(list.urls(), (std::vector<std::string>{(dir / "a-1.tar").string(), (dir / "a-2.tar").string(),
                                                   (dir / "b-1.tar").string(), (dir / "c.txt").string()}));
  try {
    parse_shard_spec((dir / "none-*.tar").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no file matches"), std::string::npos) << e.what();
  }
  const auto sources = expand_sources({{(dir / "a-{1..2}.tar").string(), 2.0}, {(dir / "b-*.tar").string(), 1.0}});
  EXPECT_EQ(sources.size(), 3u);
  EXPECT_TRUE(sources.weighted());
}

TEST(ShardSpec, DatasetSizeFromSizesJsonOrLen) {
  const auto dir = testing::scratch_dir();
  testing::write_file(dir / "s-0.tar", "");
  testing::write_file(dir / "s-1.tar", "");
  const auto spec = (dir / "s-{0..1}.tar").string();
  EXPECT_EQ(dataset_size_hint(parse_shard_spec(spec)), std::nullopt);
  testing::write_file(dir / "__len__", "123\n");
  EXPECT_EQ(dataset_size_hint(parse_shard_spec(spec)), 123);
  testing::write_file(dir / "sizes.json", R"({"s-0.tar": 10, "s-1.tar": 32, "other.tar": 5})");
  EXPECT_EQ(dataset_size_hint(parse_shard_spec(spec)), 42);
  testing::write_file(dir / "sizes.json", R"({"s-0.tar": 10})");
  EXPECT_EQ(dataset_size_hint(parse_shard_spec(spec)), std::nullopt);
  EXPECT_EQ(dataset_size_hint(parse_shard_spec("pipe:cat x")), std::nullopt);
}

}  // namespace
}  // namespace rsclip::data
