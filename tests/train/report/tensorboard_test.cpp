// TensorBoard event files (train/report/tensorboard.h): TFRecord framing with the masked
// CRC-32C, metrics.jsonl records as tags, and session files that sort in the order written.
// (tests/train/cli/ecosystem_test.cpp reads a run's files back with the tensorboard package.)
#include "train/report/tensorboard.h"

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "tests/reference/test_support.h"
#include "train/report/plot.h"

namespace rsclip::train {
namespace {
namespace fs = std::filesystem;

std::uint32_t masked(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

TEST(TensorBoard, MaskedCrc32cOfTheRecordFormat) {
  // CRC-32C check value (RFC 3720): "123456789" -> 0xE3069283; TFRecords store it masked.
  EXPECT_EQ(tfrecord_masked_crc("123456789", 9), masked(0xE3069283u));
  EXPECT_EQ(tfrecord_masked_crc("", 0), masked(0u));
}

TEST(TensorBoard, RecordsAreFramedAndChecksummed) {
  const auto dir = testing::scratch_dir();
  fs::path file;
  {
    EventWriter w(dir, 5);
    w.scalars(5, {{"train/loss", 1.5}});
    w.text(5, "config", "    a: 1\n");
    file = w.path();
  }
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t pos = 0, records = 0;
  while (pos < bytes.size()) {
    ASSERT_LE(pos + 12, bytes.size());
    std::uint64_t length;
    std::uint32_t length_crc, data_crc;
    std::memcpy(&length, bytes.data() + pos, 8);
    std::memcpy(&length_crc, bytes.data() + pos + 8, 4);
    EXPECT_EQ(length_crc, tfrecord_masked_crc(bytes.data() + pos, 8));
    ASSERT_LE(pos + 12 + length + 4, bytes.size());
    std::memcpy(&data_crc, bytes.data() + pos + 12 + length, 4);
    EXPECT_EQ(data_crc, tfrecord_masked_crc(bytes.data() + pos + 12, length));
    pos += 12 + length + 4;
    ++records;
  }
  EXPECT_EQ(records, 4u);  // file version, session start, scalars, text
  EXPECT_NE(bytes.find("brain.Event:2"), std::string::npos);
  EXPECT_NE(bytes.find("train/loss"), std::string::npos);
}

TEST(TensorBoard, ASessionFileSortsAfterTheRunsEarlierOnes) {
  const auto dir = testing::scratch_dir();
  // An earlier session's file stamped a minute ahead of this clock (another host's clock).
  const auto later = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch() + std::chrono::seconds(60))
                         .count();
  const std::string earlier = "events.out.tfevents." + std::to_string(later) + ".zzz.1.0";
  std::ofstream(dir / earlier) << "";
  EventWriter w(dir, -1);
  EXPECT_GT(w.path().filename().string(), earlier);
  EXPECT_EQ(w.path().filename().string().rfind("events.out.tfevents." + std::to_string(later + 1) + ".", 0), 0u)
      << w.path();
}

TEST(TensorBoard, MetricsRecordsBecomeTags) {
  const auto scalars = tensorboard_scalars(nlohmann::json{{"step", 3},
                                                          {"epoch", 0},
                                                          {"loss", 2.0},
                                                          {"clip_loss", 1.5},
                                                          {"data_wait", 0.1},
                                                          {"eval/zeroshot/aid/top1", 50.0},
                                                          {"note", "text"}});
  const std::vector<std::pair<std::string, double>> want = {
      {"train/clip_loss", 1.5}, {"train/data_wait", 0.1}, {"eval/zeroshot/aid/top1", 50.0}, {"train/loss", 2.0}};
  EXPECT_EQ(scalars, want);
}

// plots/loss.png draws losses (not a communication time whose name says "loss").
TEST(Charts, KeysAreChartedByWhatTheyAre) {
  EXPECT_EQ(chart_of("loss"), "loss");
  EXPECT_EQ(chart_of("clip_loss"), "loss");
  EXPECT_EQ(chart_of("hmmc_loss"), "loss");
  EXPECT_EQ(chart_of("feature_comm_wait"), "waits");
  EXPECT_EQ(chart_of("grad_comm_wait"), "waits");
  EXPECT_EQ(chart_of("data_wait"), "waits");
  EXPECT_EQ(chart_of("loss_scale"), "");
  EXPECT_EQ(chart_of("lr"), "lr");
  EXPECT_EQ(chart_of("samples_per_s"), "throughput");
  EXPECT_EQ(chart_of("eval/zeroshot/aid/top1"), "eval");
  EXPECT_EQ(chart_of("eval/zeroshot/aid/top5"), "");
}

}  // namespace
}  // namespace rsclip::train
