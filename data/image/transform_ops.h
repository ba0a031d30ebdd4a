// Internal to data/: the per-pixel steps the eval and train transforms share.
#pragma once

#include <array>
#include <cstdint>

#include <opencv2/core.hpp>

#include "data/image/transforms.h"

namespace rsclip::data::ops {

// ToTensor + Normalize for one 8-bit value: ((v / 255) - mean) / std, each step rounded to
// float32 as torch computes it (x.div(255), then sub_(mean) and div_(std) with float32 mean
// and std), tabulated for the 256 values of each channel.
struct NormalizeTable {
  std::array<std::array<float, 256>, 3> value{};
  explicit NormalizeTable(const PreprocessConfig& cfg);
};

// Writes an 8-bit RGB image (size x size) as normalised CHW floats.
void normalize_rgb(const cv::Mat& rgb, const NormalizeTable& table, float* out);

// Python's round() of x to an integer (half to even), as int.
int round_half_even(double x);

}  // namespace rsclip::data::ops
