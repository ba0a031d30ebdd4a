// Untrusted image bytes: the pixel-count ceiling (checked from the header, before any pixel
// buffer exists), crafted huge headers, random corruption and truncation (ImageError, never a
// crash), buffer reuse, and the opt-in JPEG DCT downscaling. Inputs come from OpenCV's encoders.
#include <zlib.h>

#include <cstring>
#include <random>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "data/image/image_decode.h"

namespace rsclip::data {
namespace {

cv::Mat picture(int h, int w) {
  cv::Mat bgr(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 255 / w, y * 255 / h, (x ^ y) & 255);
  }
  return bgr;
}

std::vector<std::uint8_t> encode(const std::string& ext, const cv::Mat& img) {
  std::vector<std::uint8_t> out;
  std::vector<int> params;
  if (ext == ".webp") params = {cv::IMWRITE_WEBP_QUALITY, 101};  // lossless
  EXPECT_TRUE(cv::imencode(ext, img, out, params)) << ext;
  return out;
}

const std::vector<std::string> kFormats = {".jpg", ".png", ".webp", ".tif", ".bmp"};

ImageError::Kind decode_error(std::span<const std::uint8_t> bytes, const DecodeOptions& opts = {}) {
  cv::Mat rgb;
  try {
    decode_image(bytes, rgb, opts);
  } catch (const ImageError& e) {
    return e.kind();
  }
  ADD_FAILURE() << "decoded without error";
  return ImageError::Kind::undecodable;
}

TEST(ImageRobustness, PixelCeiling) {
  const cv::Mat img = picture(48, 64);
  for (const auto& ext : kFormats) {
    const auto bytes = encode(ext, img);
    DecodeOptions opts;
    opts.max_pixels = 48 * 64;
    cv::Mat rgb;
    decode_image(bytes, rgb, opts);
    EXPECT_EQ(rgb.size(), cv::Size(64, 48)) << ext;
    opts.max_pixels = 48 * 64 - 1;
    EXPECT_EQ(decode_error(bytes, opts), ImageError::Kind::too_large) << ext;
  }
}

void put_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = v >> 24;
  p[1] = (v >> 16) & 255;
  p[2] = (v >> 8) & 255;
  p[3] = v & 255;
}

TEST(ImageRobustness, HugeHeadersAreRejectedBeforeDecoding) {
  // Each claims more than 2 x 89,478,485 pixels (PIL's DecompressionBombError) in a tiny file.
  {  // PNG: IHDR 100000 x 100000 with a valid CRC, then IEND.
    std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    png.resize(png.size() + 13 + 4);
    put_be32(&png[16], 100000);
    put_be32(&png[20], 100000);
    png[24] = 8;
    png[25] = 2;
    put_be32(&png[29], static_cast<std::uint32_t>(crc32(0, &png[12], 17)));
    EXPECT_EQ(decode_error(png), ImageError::Kind::too_large) << "PNG";
  }
  {  // JPEG: SOF0 patched to 30000 x 30000 (libjpeg itself refuses sides above 65500).
    auto jpg = encode(".jpg", picture(16, 16));
    bool patched = false;
    for (std::size_t i = 2; i + 9 < jpg.size() && !patched; ++i) {
      if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
        jpg[i + 5] = jpg[i + 7] = 0x75;
        jpg[i + 6] = jpg[i + 8] = 0x30;
        patched = true;
      }
    }
    ASSERT_TRUE(patched);
    EXPECT_EQ(decode_error(jpg), ImageError::Kind::too_large) << "JPEG";
  }
  {  // BMP: width and height fields.
    auto bmp = encode(".bmp", picture(16, 16));
    const std::uint32_t big = 100000;
    std::memcpy(&bmp[18], &big, 4);
    std::memcpy(&bmp[22], &big, 4);
    EXPECT_EQ(decode_error(bmp), ImageError::Kind::too_large) << "BMP";
  }
  {  // WebP lossless: 14-bit width-1 and height-1 all ones -> 16384 x 16384.
    auto webp = encode(".webp", picture(16, 16));
    ASSERT_EQ(std::memcmp(&webp[12], "VP8L", 4), 0);
    webp[21] = 0xFF;
    webp[22] = 0xFF;
    webp[23] = 0xFF;
    webp[24] = static_cast<std::uint8_t>(webp[24] | 0x0F);
    EXPECT_EQ(decode_error(webp), ImageError::Kind::too_large) << "WebP";
  }
  {  // TIFF: ImageWidth / ImageLength in the first IFD set to 100000.
    auto tif = encode(".tif", picture(16, 16));
    ASSERT_EQ(tif[0], 'I');
    std::uint32_t ifd;
    std::memcpy(&ifd, &tif[4], 4);
    std::uint16_t count;
    std::memcpy(&count, &tif[ifd], 2);
    for (int e = 0; e < count; ++e) {
      std::uint8_t* entry = &tif[ifd + 2 + 12 * e];
      std::uint16_t tag;
      std::memcpy(&tag, entry, 2);
      if (tag == 256 || tag == 257) {
        const std::uint16_t type_long = 4;
        const std::uint32_t big = 100000;
        std::memcpy(entry + 2, &type_long, 2);
        std::memcpy(entry + 8, &big, 4);
      }
    }
    EXPECT_EQ(decode_error(tif), ImageError::Kind::too_large) << "TIFF";
  }
}

TEST(ImageRobustness, EmptyAndUnknownBytes) {
  EXPECT_EQ(decode_error({}), ImageError::Kind::undecodable);
  const std::vector<std::uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0};
  EXPECT_EQ(decode_error(gif), ImageError::Kind::undecodable);
  const std::vector<std::uint8_t> only_magic = {0xFF, 0xD8, 0xFF};
  EXPECT_EQ(decode_error(only_magic), ImageError::Kind::undecodable);
}

TEST(ImageRobustness, CorruptAndTruncatedBytesNeverCrash) {
  // Random byte flips, overwritten runs and cuts: each decode either succeeds or throws
  // ImageError (anything else fails the test; a crash fails the process).
  std::mt19937 rng(1234);
  DecodeOptions opts;
  opts.max_pixels = 1 << 20;  // keep mutated-but-plausible headers cheap
  cv::Mat rgb;
  for (const auto& ext : kFormats) {
    const auto original = encode(ext, picture(40, 56));
    int failed = 0, decoded = 0;
    for (int trial = 0; trial < 300; ++trial) {
      auto bytes = original;
      switch (trial % 3) {
        case 0:
          for (int k = 0; k < 1 + trial % 7; ++k)
            bytes[rng() % bytes.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
          break;
        case 1: {
          const std::size_t at = rng() % bytes.size(), n = std::min<std::size_t>(1 + rng() % 16, bytes.size() - at);
          for (std::size_t k = 0; k < n; ++k) bytes[at + k] = static_cast<std::uint8_t>(rng());
          break;
        }
        default: bytes.resize(rng() % bytes.size()); break;
      }
      try {
        decode_image(bytes, rgb, opts);
        ++decoded;
        EXPECT_EQ(rgb.type(), CV_8UC3);
      } catch (const ImageError&) {
        ++failed;
      }
    }
    std::printf("  %-5s 300 mutations: %3d decoded, %3d ImageError\n", ext.c_str(), decoded, failed);
  }
}

TEST(ImageRobustness, OutputBufferIsReused) {
  const auto big = encode(".png", picture(48, 64)), small = encode(".png", picture(24, 32));
  const auto jpg = encode(".jpg", picture(40, 40));
  cv::Mat rgb;
  decode_image(big, rgb);
  const std::uint8_t* buffer = rgb.data;
  for (const auto* bytes : {&small, &jpg, &big}) {
    decode_image(*bytes, rgb);
    EXPECT_EQ(rgb.data, buffer) << "reallocated for a smaller or equal image";
    EXPECT_TRUE(rgb.isContinuous());
    EXPECT_EQ(rgb.type(), CV_8UC3);
  }
  EXPECT_EQ(rgb.size(), cv::Size(64, 48));
  cv::Mat again;
  decode_image(big, again);
  EXPECT_EQ(cv::norm(rgb, again, cv::NORM_INF), 0);
}

TEST(ImageRobustness, ErrorKeepsItsKindWithContext) {
  try {
    cv::Mat rgb;
    decode_image(std::vector<std::uint8_t>{'x'}, rgb);
    FAIL();
  } catch (const ImageError& e) {
    const ImageError wrapped = e.within("shard-0001.tar: sample 42");
    EXPECT_EQ(wrapped.kind(), ImageError::Kind::undecodable);
    EXPECT_NE(std::string(wrapped.what()).find("sample 42"), std::string::npos);
  }
}

TEST(ImageRobustness, JpegDctDownscalingIsOptIn) {
  const auto jpg = encode(".jpg", picture(400, 600));
  cv::Mat full, scaled;
  decode_image(jpg, full);
  EXPECT_EQ(full.size(), cv::Size(600, 400));
  DecodeOptions opts;
  opts.jpeg_min_side = 100;  // n = 2: 150 x 100 keeps both sides >= 100; n = 1 would give 75 x 50
  decode_image(jpg, scaled, opts);
  EXPECT_EQ(scaled.size(), cv::Size(150, 100));
  opts.jpeg_min_side = 224;  // n = 5: 375 x 250
  decode_image(jpg, scaled, opts);
  EXPECT_EQ(scaled.size(), cv::Size(375, 250));
  opts.jpeg_min_side = 1000;  // larger than the image: full size
  decode_image(jpg, scaled, opts);
  EXPECT_EQ(scaled.size(), cv::Size(600, 400));
  // The downscaled picture is the same picture: compare block means with the full decode.
  opts.jpeg_min_side = 100;
  decode_image(jpg, scaled, opts);
  cv::Scalar a = cv::mean(full), b = cv::mean(scaled);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(a[c], b[c], 2.0);
}

}  // namespace
}  // namespace rsclip::data
