// safetensors reader/writer (core/io/safetensors.h): round trip and a catalogue of malformed
// files that must each end in rsclip::Error.
#include "core/io/safetensors.h"

#include <random>

#include <gtest/gtest.h>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "tests/reference/test_support.h"

namespace rsclip {
namespace {

// A file from a JSON header text and a data block.
std::string file_of(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

void expect_safetensors_error(const std::string& bytes, const std::string& needle) {
  try {
    parse_safetensors(bytes, "t.safetensors");
    ADD_FAILURE() << "expected rsclip::Error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Safetensors, RoundTrip) {
  const auto dir = testing::scratch_dir();
  StateDict sd;
  sd.insert("a", torch::randn({3, 4}));
  sd.insert("b_t", torch::randn({2, 5}).t());  // written contiguous
  sd.insert("c", torch::arange(6).to(torch::kBFloat16));
  sd.insert("empty", torch::zeros({0, 7}));
  sd.insert("flag", torch::tensor(true));
  save_safetensors(dir / "x.safetensors", sd, {{"format", "pt"}});
  Metadata meta;
  const StateDict back = load_safetensors(dir / "x.safetensors", &meta);
  EXPECT_EQ(meta.at("format"), "pt");
  ASSERT_EQ(back.size(), sd.size());
  for (const auto& item : sd) EXPECT_TRUE(torch::equal(back[item.key()], item.value())) << item.key();
  // Header padded to 8 bytes, as the reference writer does.
  const std::string bytes = read_file(dir / "x.safetensors");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
}

TEST(Safetensors, TruncatedAtEveryOffset) {
  const auto dir = testing::scratch_dir();
  StateDict sd;
  sd.insert("a", torch::randn({3, 4}));
  sd.insert("b", torch::arange(5));
  save_safetensors(dir / "x.safetensors", sd);
  const std::string bytes = read_file(dir / "x.safetensors");
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THROW(parse_safetensors(bytes.substr(0, n), "t"), Error) << "truncated to " << n;
  }
  // Flipped bytes: safetensors has no checksum, so a flip in the data passes; any other
  // outcome must be an rsclip::Error (never a crash or another exception type).
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x55);
    try {
      parse_safetensors(bad, "t");
    } catch (const Error&) {
    }
  }
}

TEST(Safetensors, CorruptCatalogue) {
  const std::string f4 = std::string(8, '\0');  // two float32 zeros
  expect_safetensors_error("", "too short");
  expect_safetensors_error(std::string(7, '\0'), "too short");
  expect_safetensors_error(std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8) + "{}", "exceeds the file");
  expect_safetensors_error(std::string("\x00\x00\x00\x10\x00\x00\x00\x00", 8) + "{}", "exceeds the file");  // 256 MiB
  expect_safetensors_error(file_of("{\"a\": ", ""), "not valid JSON");
  expect_safetensors_error(file_of("[1, 2]", ""), "not a JSON object");
  expect_safetensors_error(file_of(R"({"a": 5})", ""), "needs dtype");
  expect_safetensors_error(file_of(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", f4), "needs dtype");
  expect_safetensors_error(file_of(R"({"a": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}})", f4),
                           "unsupported dtype");
  expect_safetensors_error(file_of(R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", f4),
                           "non-negative");
  expect_safetensors_error(file_of(R"({"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})", f4),
                           "non-negative");
  expect_safetensors_error(file_of(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, -8]}})", f4),
                           "non-negative");
  expect_safetensors_error(file_of(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", f4),
                           "outside the data");
  expect_safetensors_error(file_of(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}})", f4),
                           "outside the data");
  expect_safetensors_error(file_of(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", f4), "need 12");
  expect_safetensors_error(
      file_of(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", f4),
      "overflows");
  expect_safetensors_error(
      file_of(R"({"a": {"dtype": "F64", "shape": [4611686018427387904, 2], "data_offsets": [0, 8]}})", f4),
      "overflows");
  // Zero elements but sizes whose product overflows int64 (torch would throw its own error).
  expect_safetensors_error(file_of(R"({"a": {"dtype": "F32", "shape": [0, 4611686018427387904, 4611686018427387904],
                              "data_offsets": [0, 0]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
                                   f4),
                           "overflows");
  expect_safetensors_error(file_of(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                          "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
                                   f4),
                           "overlaps");
  expect_safetensors_error(file_of(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", f4), "gap");
  expect_safetensors_error(file_of(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", f4), "trailing");
  expect_safetensors_error(file_of(R"({"__metadata__": {"k": 1}})", ""), "not a string");
  expect_safetensors_error(file_of(R"({"__metadata__": [1]})", ""), "must be an object");
  // Deeply nested JSON in the header.
  expect_safetensors_error(file_of(std::string(100000, '[') + std::string(100000, ']'), ""), "not a JSON object");
}

TEST(Safetensors, RandomGarbage) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string b(rng() % 300, '\0');
    for (auto& c : b) c = static_cast<char>(rng());
    if (b.size() >= 9) {
      const std::uint64_t n = rng() % (b.size() - 8 + 1);
      for (int k = 0; k < 8; ++k) b[k] = static_cast<char>((n >> (8 * k)) & 0xff);
      b[8] = '{';
    }
    try {
      parse_safetensors(b, "garbage");
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace rsclip
