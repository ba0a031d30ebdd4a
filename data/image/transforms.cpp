// Config validation and the steps both transforms share (normalisation, rounding).
#include "data/image/transforms.h"

#include <cmath>

#include <fmt/format.h>

#include "data/image/pil_resample.h"
#include "data/image/transform_ops.h"

namespace rsclip::data {

void PreprocessConfig::validate() const {
  if (size <= 0 || size > 8192) throw Error(fmt::format("must be in 1..8192, got {}", size), "size");
  for (int c = 0; c < 3; ++c) {
    if (!(std[c] > 0) || !std::isfinite(std[c])) throw Error("must be positive", fmt::format("std[{}]", c));
    if (!std::isfinite(mean[c])) throw Error("must be finite", fmt::format("mean[{}]", c));
  }
  parse_resample_filter(interpolation);
  if (resize_mode != "shortest" && resize_mode != "longest" && resize_mode != "squash") {
    throw Error("unknown resize mode '" + resize_mode + "'", "resize_mode", "use shortest, longest or squash");
  }
  if (fill_color < 0 || fill_color > 255) throw Error("must be in 0..255", "fill_color");
}

void AugmentConfig::validate() const {
  if (!(scale_min > 0 && scale_min <= scale_max && scale_max <= 1.0)) {
    throw Error(fmt::format("need 0 < scale_min <= scale_max <= 1, got {} and {}", scale_min, scale_max), "scale_min");
  }
  if (!(ratio_min > 0 && ratio_min <= ratio_max && std::isfinite(ratio_max))) {
    throw Error(fmt::format("need 0 < ratio_min <= ratio_max, got {} and {}", ratio_min, ratio_max), "ratio_min");
  }
  if (!(color_jitter >= 0 && color_jitter <= 1.0)) throw Error("must be in 0..1", "color_jitter");
  if (jpeg_min_side < 0) throw Error("must be >= 0", "jpeg_min_side");
}

void ImageTransform::apply(const DecodedImage& image, std::uint64_t seed, float* out) {
  if (image.mode == PixelMode::RGB || image.mode == PixelMode::P) {
    apply(image.pixels, seed, out);
    return;
  }
  thread_local cv::Mat rgb;
  convert_to_rgb(image, rgb);
  apply(rgb, seed, out);
}

namespace ops {

NormalizeTable::NormalizeTable(const PreprocessConfig& cfg) {
  for (int c = 0; c < 3; ++c) {
    const float mean = static_cast<float>(cfg.mean[c]);
    const float std = static_cast<float>(cfg.std[c]);
    for (int v = 0; v < 256; ++v) {
      const float scaled = static_cast<float>(v) / 255.0F;
      value[c][v] = (scaled - mean) / std;
    }
  }
}

void normalize_rgb(const cv::Mat& rgb, const NormalizeTable& table, float* out) {
  const std::size_t plane = static_cast<std::size_t>(rgb.rows) * rgb.cols;
  for (int y = 0; y < rgb.rows; ++y) {
    const std::uint8_t* s = rgb.ptr<std::uint8_t>(y);
    float* r = out + static_cast<std::size_t>(y) * rgb.cols;
    float* g = r + plane;
    float* b = g + plane;
    for (int x = 0; x < rgb.cols; ++x) {
      r[x] = table.value[0][s[3 * x]];
      g[x] = table.value[1][s[3 * x + 1]];
      b[x] = table.value[2][s[3 * x + 2]];
    }
  }
}

int round_half_even(double x) {
  // nearbyint rounds half to even in the default rounding mode, as Python's round().
  return static_cast<int>(std::nearbyint(x));
}

}  // namespace ops
}  // namespace rsclip::data
