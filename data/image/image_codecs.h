// Internal to data/: one decoder per container format, each filling a DecodedImage in the
// mode PIL's plugin opens that file in, plus the helpers they share. Callers use
// image_decode.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "data/image/image_decode.h"

namespace rsclip::data::codec {

void decode_jpeg(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts);
void decode_png(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts);
void decode_webp(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts);
void decode_tiff(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts);
void decode_bmp(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts);

// ImageError(undecodable) naming the format: "JPEG: <message>".
[[noreturn]] void fail(const char* format, const std::string& message);

// Rejects empty sizes and, like PIL's _decompression_bomb_check, more than opts.max_pixels
// pixels (ImageError too_large). Called with the header's size before any pixel allocation.
void check_size(const char* format, std::int64_t width, std::int64_t height, const DecodeOptions& opts);

// Makes `m` a continuous rows x cols matrix of `type`, reusing its allocation when it is
// large enough and of the same depth (cv::Mat::create would reallocate on every new shape).
void shape_buffer(cv::Mat& m, int rows, int cols, int type);

// Per-thread scratch buffers keep their capacity between images; one that grew beyond this
// (a rare huge image) is freed after use instead of pinning the memory.
constexpr std::size_t kScratchKeepBytes = std::size_t{64} << 20;
template <class T>
void trim_scratch(std::vector<T>& v) {
  if (v.capacity() * sizeof(T) > kScratchKeepBytes) std::vector<T>().swap(v);
}

// The OpenCV type that holds `mode` (see PixelMode).
int pixel_type(PixelMode mode);

// Fills out.pixels as a (height x width) image of `mode`.
inline void shape_image(DecodedImage& out, PixelMode mode, int width, int height) {
  out.mode = mode;
  shape_buffer(out.pixels, height, width, pixel_type(mode));
}

}  // namespace rsclip::data::codec
