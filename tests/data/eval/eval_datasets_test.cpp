#include "data/eval/eval_datasets.h"

#include <fstream>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "data/eval/csv_reader.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

TEST(EvalDatasets, ImageFolderOrderAndClassNames) {
  const auto root = testing::scratch_dir() / "aid";
  write(root / "sparse_residential/b.jpg", "x");
  write(root / "sparse_residential/a.PNG", "x");
  write(root / "sparse_residential/notes.txt", "x");
  write(root / "Airport/1.tif", "x");
  auto set = read_image_folder(root);
  EXPECT_EQ(set.folders, (std::vector<std::string>{"Airport", "sparse_residential"}));
  EXPECT_EQ(set.classes, (std::vector<std::string>{"airport", "sparse residential"}));
  ASSERT_EQ(set.images.size(), 3u);
  EXPECT_EQ(set.images[1].filename(), "a.PNG");
  EXPECT_EQ(set.labels, (std::vector<int64_t>{0, 1, 1}));
  EXPECT_THROW(read_image_folder(root / "missing"), Error);
}

TEST(EvalDatasets, KarpathyJsonSplitFilter) {
  const auto dir = testing::scratch_dir();
  write(dir / "d.json", R"({"images": [
    {"filename": "a.jpg", "split": "train", "sentences": [{"raw": "t1"}]},
    {"filename": "b.jpg", "filepath": "imgs", "split": "test", "sentences": [{"raw": "b1"}, {"raw": "b2"}]},
    {"filename": "c.jpg", "split": "test", "sentences": [{"raw": "c1"}]}]})");
  auto set = read_karpathy_json(dir / "d.json");
  ASSERT_EQ(set.images.size(), 2u);
  EXPECT_EQ(set.images[0], dir / "imgs" / "b.jpg");
  EXPECT_EQ(set.captions, (std::vector<std::string>{"b1", "b2", "c1"}));
  EXPECT_EQ(set.caption_image, (std::vector<int64_t>{0, 0, 1}));
  RetrievalOptions all;
  all.split = "";
  EXPECT_EQ(read_karpathy_json(dir / "d.json", all).images.size(), 3u);
  write(dir / "bad.json", R"({"images": [{"split": "test"}]})");
  EXPECT_THROW(read_karpathy_json(dir / "bad.json"), Error);
}

TEST(EvalDatasets, GeoRSCLIPCsvGroupsRowsInSortedOrder) {
  const auto dir = testing::scratch_dir();
  write(dir / "r.csv", "filename,title\r\nz.tif,\"a plane, parked\"\r\na.tif,first\r\nz.tif,\"say \"\"hi\"\"\"\r\n");
  auto set = read_caption_csv(dir / "r.csv");
  ASSERT_EQ(set.images.size(), 2u);
  EXPECT_EQ(set.images[0].filename(), "a.tif");  // numpy.unique order
  EXPECT_EQ(set.captions, (std::vector<std::string>{"first", "a plane, parked", "say \"hi\""}));
  EXPECT_EQ(set.caption_image, (std::vector<int64_t>{0, 1, 1}));
  write(dir / "bad.csv", "filename,title\na.tif,x,y\n");
  EXPECT_THROW(read_caption_csv(dir / "bad.csv"), Error);
  RetrievalOptions wrong_column;
  wrong_column.caption_column = "caption";
  EXPECT_THROW(read_caption_csv(dir / "r.csv", wrong_column), Error);
}

TEST(EvalDatasets, Gb18030CsvIsConverted) {
  const auto dir = testing::scratch_dir();
  write(dir / "g.csv", "filename,title\nx.jpg,\xD6\xD0\xCE\xC4\n");  // "中文" in GB18030
  EXPECT_THROW(read_caption_csv(dir / "g.csv"), Error);              // not UTF-8
  RetrievalOptions gb;
  gb.encoding = "gb18030";
  auto set = read_caption_csv(dir / "g.csv", gb);
  EXPECT_EQ(set.captions[0], "\xE4\xB8\xAD\xE6\x96\x87");
}

TEST(EvalDatasets, CaptionTxtPairs) {
  const auto dir = testing::scratch_dir();
  write(dir / "test_caps.txt", "c0\nc1\nc2\n");
  write(dir / "test_filename.txt", "b.tif\nb.tif\na.tif\n");
  auto set = read_retrieval_set(dir / "test_caps.txt");
  EXPECT_EQ(set.images[0].filename(), "b.tif");  // first appearance
  EXPECT_EQ(set.caption_image, (std::vector<int64_t>{0, 0, 1}));
  write(dir / "short_caps.txt", "c0\nc1\n");
  write(dir / "short_filename.txt", "a.tif\n");
  EXPECT_THROW(read_retrieval_set(dir / "short_caps.txt"), Error);
  EXPECT_THROW(read_retrieval_set(dir / "list.xml"), Error);
}

}  // namespace
}  // namespace rsclip::data
