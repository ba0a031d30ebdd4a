#include "data/shards/shard_packer.h"

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/base/error.h"
#include "data/loader/clip_processor.h"
#include "data/loader/loader.h"
#include "tests/data/loader/loader_fixture.h"
#include "tests/data/shards/tar_fixture.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void write_image(const fs::path& path, int shade) {
  fs::create_directories(path.parent_path());
  cv::Mat m(24, 32, CV_8UC3, cv::Scalar(shade, 255 - shade, 128));
  ASSERT_TRUE(cv::imwrite(path.string(), m));
}

fs::path make_image_folder(const fs::path& dir) {
  const auto root = dir / "folder";
  write_image(root / "Dense_Residential" / "a.jpg", 10);
  write_image(root / "Dense_Residential" / "b.png", 60);
  write_image(root / "river" / "c.one.jpg", 200);
  return root;
}

std::vector<std::string> loader_captions(const std::string& spec, const std::string& image_fields = "jpg;png",
                                         const std::string& text_fields = "txt") {
  LoaderOptions o;
  o.shards = spec;
  o.shuffle_buffer = 0;
  o.shuffle_shards = false;
  o.batch_size = 1;
  o.image_fields = image_fields;
  o.text_fields = text_fields;
  DataConfig config;
  static_cast<LoaderOptions&>(config) = o;
  config.preprocess.size = 16;
  Loader loader(config, clip_processor(config, /*train=*/false));
  loader.start_epoch(0);
  std::vector<std::string> keys;
  while (auto b = loader.next()) keys.push_back(b->keys[0]);
  EXPECT_EQ(loader.faults().bad_samples(), 0);
  return keys;
}

TEST(ShardPacker, ImageFolderShardsReadByPythonWebdatasetAndOurLoader) {
  const auto dir = testing::scratch_dir();
  const auto root = make_image_folder(dir);
  PackSource src;
  src.kind = "imagefolder";
  src.path = root;
  auto items = pack_items(src);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].caption, "a satellite image of dense residential.");
  EXPECT_EQ(items[2].caption, "a satellite image of river.");
  PackOptions o;
  o.out_dir = dir / "out";
  o.max_count = 2;
  o.relative_to = root;
  const auto r = pack_shards(items, o);
  ASSERT_EQ(r.shards.size(), 2u);
  EXPECT_EQ(r.counts, (std::vector<std::int64_t>{2, 1}));
  const auto sizes = json::parse(testing::read_file(o.out_dir / "sizes.json"));
  EXPECT_EQ(sizes, json({{"shard-000000.tar", 2}, {"shard-000001.tar", 1}}));

  // Packing is deterministic.
  PackOptions again = o;
  again.out_dir = dir / "again";
  pack_shards(items, again);
  EXPECT_EQ(testing::read_file(r.shards[0]), testing::read_file(again.out_dir / "shard-000000.tar"));

  const std::vector<std::string> urls = {r.shards[0].string(), r.shards[1].string()};
  std::vector<std::string> args{"samples"};
  args.insert(args.end(), urls.begin(), urls.end());
  const auto py = json::parse(testing::run_python("scripts/reference/webdataset_reference.py", args));
  ASSERT_EQ(py.size(), 3u);
  const auto hex_key = [](const std::string& k) {
    std::string out;
    for (unsigned char c : k) out += fmt::format("{:02x}", c);
    return out;
  };
  EXPECT_EQ(py[0]["key"], hex_key("00000000"));
  EXPECT_EQ(py[2]["key"], hex_key("00000002"));
  std::set<std::string> fields;
  for (const auto& [k, v] : py[1]["fields"].items()) fields.insert(k);
  EXPECT_EQ(fields, (std::set<std::string>{"png", "json", "txt"}));
  EXPECT_EQ(py[1]["fields"]["txt"][0], items[1].caption.size());
  EXPECT_EQ(py[1]["fields"]["png"][0], fs::file_size(items[1].image));

  const auto spec = (o.out_dir / "shard-{000000..000001}.tar").string();
  EXPECT_EQ(loader_captions(spec), (std::vector<std::string>{"00000000", "00000001", "00000002"}));
}

TEST(ShardPacker, Rs5mNamesWorkWithTheDefaultFields) {
  const auto dir = testing::scratch_dir();
  PackSource src;
  src.kind = "imagefolder";
  src.path = make_image_folder(dir);
  PackOptions o;
  o.out_dir = dir / "rs5m";
  o.rs5m_names = true;
  pack_shards(pack_items(src), o);
  std::vector<std::string> names;
  {
    TarReader reader(ShardInput::open((o.out_dir / "shard-000000.tar").string()));
    while (reader.next()) names.push_back(reader.name());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"00000000.caption", "00000000.img_content", "00000000.img_name",
                                             "00000001.caption", "00000001.img_content", "00000001.img_name",
                                             "00000002.caption", "00000002.img_content", "00000002.img_name"}));
  EXPECT_EQ(loader_captions((o.out_dir / "shard-000000.tar").string(), LoaderOptions{}.image_fields,
                            LoaderOptions{}.text_fields)
                .size(),
            3u);
}

TEST(ShardPacker, KarpathyAndCsvCaptionLists) {
  const auto dir = testing::scratch_dir();
  write_image(dir / "imgs" / "x.jpg", 1);
  write_image(dir / "imgs" / "y.jpg", 2);
  testing::write_file(dir / "k.json", R"({"images": [
      {"filename": "x.jpg", "split": "train", "sentences": [{"raw": "one"}, {"raw": "two"}]},
      {"filename": "y.jpg", "split": "test", "sentences": [{"raw": "three"}]}]})");
  PackSource k;
  k.kind = "karpathy";
  k.path = dir / "k.json";
  k.image_root = dir / "imgs";
  const auto train = pack_items(k);
  ASSERT_EQ(train.size(), 2u);
  EXPECT_EQ(train[1].caption, "two");
  EXPECT_EQ(train[1].image, dir / "imgs" / "x.jpg");
  k.split = "";
  EXPECT_EQ(pack_items(k).size(), 3u);

  testing::write_file(dir / "c.csv", "filename,title\nx.jpg,\"a, b\"\ny.jpg,c\n");
  PackSource c;
  c.kind = "csv";
  c.path = dir / "c.csv";
  c.image_root = dir / "imgs";
  const auto rows = pack_items(c);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].caption, "a, b");

  k.kind = "nonsense";
  EXPECT_THROW(pack_items(k), Error);
}

TEST(ShardsCli, PackThenInspect) {
  const auto dir = testing::scratch_dir();
  const auto root = make_image_folder(dir);
  auto r = testing::run_rsclip({"shards", "--from", "imagefolder", root.string(), "--out", (dir / "out").string(),
                                "--maxcount", "2", "--template", "an aerial photo of {}"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 samples in 2 shards"), std::string::npos) << r.output;
  // A broken shard among them: inspect counts it.
  testing::write_file(dir / "out" / "shard-000002.tar", "not a tar at all, just text of some length");
  r = testing::run_rsclip({"shards", "--inspect", (dir / "out" / "shard-{000000..000002}.tar").string(), "--decode"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("samples  3 (usable 3, bad 0)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("corrupt_tar 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("txt"), std::string::npos) << r.output;
  r = testing::run_rsclip({"shards"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("nothing to do"), std::string::npos) << r.output;
  r = testing::run_rsclip({"shards", "--help"});
  EXPECT_EQ(r.exit_code, 0);
}

}  // namespace
}  // namespace rsclip::data
