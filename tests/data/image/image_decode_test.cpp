// Image decoding against PIL 12 (Image.open(f).convert("RGB")) on generated files of many
// sizes, modes and container variants; truncated files against PIL's verdict.
#include "data/image/image_decode.h"

#include <cstdio>

#include <map>

#include <gtest/gtest.h>

#include "tests/data/image/image_reference.h"

namespace rsclip::data {
namespace {

using testing::image_reference;

std::string family(const std::string& name) { return name.substr(0, name.find('_')); }

TEST(ImageDecode, BitIdenticalToPil) {
  const auto& ref = image_reference();
  struct Tally {
    int files = 0, identical = 0, mode_ok = 0;
    int max_diff = 0;
  };
  std::map<std::string, Tally> tallies;
  cv::Mat rgb;
  DecodedImage native;
  for (const auto& c : ref.cases) {
    const std::string name = c["name"], file = c["file"], mode = c["mode"];
    const auto bytes = ref.bytes(file);
    Tally& t = tallies[family(name)];
    ++t.files;
    try {
      decode_image(bytes, rgb);
      decode_image(bytes, native);
    } catch (const ImageError& e) {
      ADD_FAILURE() << name << ": " << e.what();
      continue;
    }
    if (mode == pil_mode_name(native.mode))
      ++t.mode_ok;
    else
      ADD_FAILURE() << name << ": mode " << pil_mode_name(native.mode) << ", PIL says " << mode;
    const torch::Tensor& expected = ref.tensor("decode/" + name);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    ASSERT_TRUE(rgb.isContinuous());
    if (expected.size(0) != rgb.rows || expected.size(1) != rgb.cols) {
      ADD_FAILURE() << name << ": size " << rgb.cols << "x" << rgb.rows << ", PIL " << expected.size(1) << "x"
                    << expected.size(0);
      continue;
    }
    const auto actual = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8).to(torch::kInt);
    const int diff = (actual - expected.to(torch::kInt)).abs().max().item<int>();
    t.max_diff = std::max(t.max_diff, diff);
    if (diff == 0)
      ++t.identical;
    else
      ADD_FAILURE() << name << " (" << mode << "): max |diff| " << diff << " from PIL";
  }
  std::printf("  %-14s %6s %10s %8s %9s\n", "format", "files", "identical", "mode ok", "max diff");
  for (const auto& [f, t] : tallies) {
    std::printf("  %-14s %6d %10d %8d %9d\n", f.c_str(), t.files, t.identical, t.mode_ok, t.max_diff);
  }
}

TEST(ImageDecode, TruncatedFilesFailWherePilFails) {
  // PIL raises "image file is truncated" (or a decoder error) for a cut file; rsclip must not
  // hand out an image PIL refuses, and must never crash.
  const auto& ref = image_reference();
  int total = 0, agree = 0, we_fail_pil_ok = 0;
  cv::Mat rgb;
  for (const auto& t : ref.truncated) {
    const std::string file = t["file"];
    const std::size_t cut = t["cut"];
    const bool pil_ok = t["pil_ok"];
    auto bytes = ref.bytes(file);
    bytes.resize(cut);
    bool ok = true;
    try {
      decode_image(bytes, rgb);
    } catch (const ImageError&) {
      ok = false;
    }
    ++total;
    if (ok == pil_ok) {
      ++agree;
    } else if (ok) {
      ADD_FAILURE() << file << " cut at " << cut << " bytes: decoded, but PIL refuses it";
    } else {
      ++we_fail_pil_ok;
      std::printf("  note: %s cut at %zu bytes: PIL decodes it, rsclip refuses\n", file.c_str(), cut);
    }
  }
  std::printf("  truncated files: %d, same verdict as PIL: %d, refused where PIL decodes: %d\n", total, agree,
              we_fail_pil_ok);
}

}  // namespace
}  // namespace rsclip::data
