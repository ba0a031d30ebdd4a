#include "data/shards/webdataset.h"

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/data/loader/loader_fixture.h"
#include "tests/data/shards/tar_fixture.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

const std::vector<std::string> kNames = {"a.jpg",
                                         "a.b.c.JPG",
                                         "dir/abc.def.jpg",
                                         "dir.x/abc",
                                         "dir.x/abc.jpg",
                                         "a/b.c/d",
                                         "a/b/.hidden",
                                         ".hidden",
                                         "dir/.x.y",
                                         "noext",
                                         "dir/",
                                         "a./b",
                                         "trailing.",
                                         "x/y/z.tar.gz",
                                         "caf\u00e9/\u00fcber.TXT",
                                         "line\nbreak/x.jpg",
                                         "a/line\nbreak.jpg",
                                         "a.b/c\n.d",
                                         "..",
                                         "a..b",
                                         "/abs/p.jpg",
                                         "a/b/c"};

// One Python run for the whole file: it writes the tricky shards and returns every reference.
class Reference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Per process: ctest runs each TEST of this file as its own process, possibly in parallel.
    dir_ =
        new fs::path(fs::path(RSCLIP_BINARY_DIR) / "test-tmp" / ("webdataset_reference-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    std::vector<std::string> args{"tricky", dir_->string()};
    for (const auto& n : kNames) args.push_back(hex(n));
    ref_ = new json(json::parse(testing::run_python("scripts/reference/webdataset_reference.py", args)));
  }
  static void TearDownTestSuite() {
    delete ref_;
    fs::remove_all(*dir_);
    delete dir_;
  }
  static const json& ref() { return *ref_; }
  static std::vector<std::string> shards() { return ref()["shards"].get<std::vector<std::string>>(); }
  void split_key_matches_base_plus_ext();
  void grouping_equals_webdataset();
  void accepted_samples_equal_open_clip_pipeline();
  static inline fs::path* dir_ = nullptr;
  static inline json* ref_ = nullptr;
};

// One test case (CTest runs each case in its own process, and the Python run is slow).
TEST_F(Reference, EqualsPythonWebdataset) {
  split_key_matches_base_plus_ext();
  grouping_equals_webdataset();
  accepted_samples_equal_open_clip_pipeline();
}

void Reference::split_key_matches_base_plus_ext() {
  SCOPED_TRACE("split_key");
  const auto& r = ref()["split"];
  ASSERT_EQ(r.size(), kNames.size());
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    const auto got = split_key(kNames[i]);
    if (r[i].is_null()) {
      EXPECT_FALSE(got.has_value()) << "name " << json(kNames[i]).dump();
    } else {
      ASSERT_TRUE(got.has_value()) << "name " << json(kNames[i]).dump();
      EXPECT_EQ(got->key, r[i][0].get<std::string>()) << "name " << json(kNames[i]).dump();
      EXPECT_EQ(got->extension, r[i][1].get<std::string>()) << "name " << json(kNames[i]).dump();
    }
  }
}

json describe_cpp(const std::vector<std::string>& urls) {
  json out = json::array();
  for (const auto& url : urls) {
    TarReader reader(ShardInput::open(url));
    SampleGrouper grouper(reader, 1 << 20);
    TarSample s;
    while (grouper.next(s)) {
      json fields = json::object();
      for (std::size_t i = 0; i < s.count; ++i) {
        const auto& f = s.fields[i];
        std::string data(f.data.begin(), f.data.end());
        fields[f.extension] = json::array({f.size, data});
      }
      out.push_back({{"key", hex(s.key)}, {"url", url}, {"fields", fields}});
    }
  }
  return out;
}

// Python's fields carry sha256; compare sizes, names and the bytes through Python's hash.
void expect_same_samples(const json& cpp, const json& py) {
  ASSERT_EQ(cpp.size(), py.size()) << "C++: " << cpp.dump() << "\nPython: " << py.dump();
  for (std::size_t i = 0; i < py.size(); ++i) {
    EXPECT_EQ(cpp[i]["key"], py[i]["key"]) << "sample " << i;
    EXPECT_EQ(cpp[i]["url"], py[i]["url"]) << "sample " << i;
    ASSERT_EQ(cpp[i]["fields"].size(), py[i]["fields"].size()) << "sample " << i << ": " << cpp[i].dump();
    for (const auto& [ext, value] : py[i]["fields"].items()) {
      ASSERT_TRUE(cpp[i]["fields"].contains(ext)) << "sample " << i << " lacks field " << ext;
      EXPECT_EQ(cpp[i]["fields"][ext][0], value[0]) << "sample " << i << " field " << ext;
    }
  }
}

void Reference::grouping_equals_webdataset() {
  SCOPED_TRACE("grouping");
  const auto all = shards();
  ASSERT_EQ(all.size(), 4u);
  const std::vector<std::string> urls(all.begin(), all.begin() + 3);
  const auto cpp = describe_cpp(urls);
  expect_same_samples(cpp, ref()["samples"]);
  std::printf("  %zu samples from %zu shards (gnu, pax, gzip) equal webdataset's\n", cpp.size(), urls.size());

  // Repeated fields under one key: open_clip_train's group_by_keys_nothrow rule.
  expect_same_samples(describe_cpp({all[3]}), ref()["samples_nothrow"]);
}

void Reference::accepted_samples_equal_open_clip_pipeline() {
  SCOPED_TRACE("accepted samples");
  // open_clip's filter (txt + jpg/png/jpeg/webp) and rename; our default alternatives are a
  // superset, so the same choice is configured here.
  const auto choice = FieldChoice::parse("jpg;png;jpeg;webp", "txt", "json");
  const auto& py = ref()["pipeline"];
  TarReader reader(ShardInput::open(shards()[1]));
  SampleGrouper grouper(reader, 1 << 20);
  TarSample s;
  Sample out;
  std::vector<std::string> keys, texts;
  while (grouper.next(s)) {
    if (!accept_sample(s, choice, out)) {
      keys.push_back(out.key);
      texts.push_back(out.text);
    }
  }
  ASSERT_EQ(keys.size(), py.size());
  for (std::size_t i = 0; i < py.size(); ++i) {
    EXPECT_EQ(keys[i], py[i]["key"].get<std::string>());
    EXPECT_EQ(texts[i], py[i]["text"].get<std::string>());
  }

  // The loader itself (no shuffle, one stream) yields the same samples in the same order.
  LoaderOptions o;
  o.shards = shards()[1];
  o.shuffle_buffer = 0;
  o.shuffle_shards = false;
  o.batch_size = 2;
  o.image_fields = "jpg;png;jpeg;webp";
  o.text_fields = "txt";
  o.max_bad_fraction = 1;
  Loader loader(o, testing::BytesProcessor::spec());
  loader.start_epoch(0);
  EXPECT_EQ(testing::collect(loader).keys, keys);
}

TEST(AcceptSample, FaultKindsAndFieldChoice) {
  const auto choice = FieldChoice::parse("jpg;jpeg;png;webp;tif;tiff;img_content", "txt;caption", "json");
  const auto run = [&](const std::vector<testing::TarMember>& members, std::uint64_t limit = 1 << 20) {
    const auto bytes = testing::make_tar(members);
    auto reader = TarReader::from_memory({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, "m");
    SampleGrouper grouper(*reader, limit, [&](std::string_view e) { return choice.wanted(e); });
    TarSample s;
    Sample out;
    std::vector<std::string> results;
    while (grouper.next(s)) {
      const auto fault = accept_sample(s, choice, out);
      results.push_back(fault ? std::string(fault_name(*fault))
                              : "ok:" + out.key + ":" + out.image_extension + ":" + out.text);
    }
    return results;
  };
  EXPECT_EQ(run({{"r.img_content", "I"}, {"r.img_name", "n.jpg"}, {"r.caption", "rs5m style"}}),
            std::vector<std::string>{"ok:r:img_content:rs5m style"});
  EXPECT_EQ(run({{"a.png", "P"}, {"a.jpg", "J"}, {"a.txt", "t"}}), std::vector<std::string>{"ok:a:jpg:t"});
  EXPECT_EQ(run({{"a.txt", "only text"}}), std::vector<std::string>{"missing_image"});
  EXPECT_EQ(run({{"a.jpg", "only image"}}), std::vector<std::string>{"missing_text"});
  EXPECT_EQ(run({{"a.jpg", "J"}, {"a.txt", " \t\n"}}), std::vector<std::string>{"empty_text"});
  EXPECT_EQ(run({{"a.jpg", "J"}, {"a.txt", ""}}), std::vector<std::string>{"empty_text"});
  EXPECT_EQ(run({{"a.jpg", "J"}, {"a.txt", "caf\xe9"}}), std::vector<std::string>{"bad_utf8"});
  EXPECT_EQ(run({{"a.jpg", std::string(5000, 'J')}, {"a.txt", "t"}}, 4096),
            std::vector<std::string>{"oversized_member"});
  // An oversized member nobody asked for does not matter.
  EXPECT_EQ(run({{"a.jpg", "J"}, {"a.npy", std::string(5000, 'N')}, {"a.txt", "t"}}, 4096),
            std::vector<std::string>{"ok:a:jpg:t"});
}

}  // namespace
}  // namespace rsclip::data
