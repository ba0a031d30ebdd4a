// Pillow's Image.resize, reimplemented bit for bit (Pillow 12.0 src/libImaging/Resample.c and,
// for NEAREST, Geometry.c ImagingScaleAffine), for the image types decoding produces.
//
// 8-bit images (1..4 channels): separable, horizontal pass first; per output pixel the window
//   center = (x + 0.5) * scale, support = filter support * max(scale, 1) (antialias when
//   shrinking), first = (int)(center - support + 0.5) clamped to 0,
//   last = (int)(center + support + 0.5) clamped to the input size,
//   weights filter((i + first - center + 0.5) / max(scale, 1)) normalised to sum 1 in double,
//   then to 22-bit fixed point rounded half away from zero; each pass rounds
//   (2^21 + sum) >> 22 and clamps to 0..255, so the intermediate image is 8-bit.
//   Bicubic a = -0.5, bilinear = triangle. An axis whose size does not change is not resampled.
// 16-bit ("I;16"): the same windows with double weights; each pass rounds half away from zero
//   and stores the low and high byte each clamped to 0..255 (PIL's CLIP8 per byte).
// NEAREST: source index (int)(0.5 * scale + x * scale), the sum accumulated in double as PIL
//   does; PIL uses it for every resize of "P" and "1" images.
//
// Only an output window is computed (the part a following centre crop keeps); its values
// equal those of the full resize. Kernels cover only the window and are cached per (input
// size, output size, filter, window).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace rsclip::data {

enum class ResampleFilter { nearest, bilinear, bicubic };

// "nearest" | "bilinear" | "bicubic" (rsclip::Error otherwise).
ResampleFilter parse_resample_filter(const std::string& name);

// One axis of Pillow's precompute_coeffs, for the output indices begin .. begin + first.size().
struct AxisKernel {
  int in_size = 0, out_size = 0, ksize = 0, begin = 0;
  ResampleFilter filter = ResampleFilter::bicubic;
  std::vector<int> first, count;    // input window of each covered output index
  std::vector<double> weights;      // first.size() x ksize, normalised
  std::vector<std::int32_t> fixed;  // the same in 22-bit fixed point (normalize_coeffs_8bpc)
};
// length < 0: all output indices from begin on.
void build_axis_kernel(int in_size, int out_size, ResampleFilter filter, AxisKernel& kernel, int begin = 0,
                       int length = -1);

class PilResizer {
 public:
  // simd = false keeps to the scalar loops (the AVX2 ones give identical results; tests compare).
  explicit PilResizer(bool simd = true) : simd_(simd) {}

  // Writes the `window` part of `src` resized to `out_size` with `filter` into `dst` (same type
  // as src: CV_8UC1..4 or CV_16UC1). `window` must lie inside (0, 0, out_size).
  void resize(const cv::Mat& src, cv::Size out_size, ResampleFilter filter, cv::Rect window, cv::Mat& dst);

 private:
  const AxisKernel& kernel(int in_size, int out_size, ResampleFilter filter, int begin, int length);
  void resize_nearest(const cv::Mat& src, cv::Size out_size, cv::Rect window, cv::Mat& dst);
  void horizontal_8bpc(const cv::Mat& src, int row0, int rows, const AxisKernel& k, int x0, int width, cv::Mat& dst);
  void vertical_8bpc(const cv::Mat& src, int row_offset, const AxisKernel& k, int y0, int height, cv::Mat& dst);

  bool simd_;

  static constexpr std::size_t kCacheSize = 16;
  std::vector<std::unique_ptr<AxisKernel>> cache_;  // most recently used first
  cv::Mat tmp_;                                     // horizontal-pass output
  std::vector<std::int32_t> wide_;                  // AVX2 horizontal pass: a source row, 4 int32 per pixel
  std::vector<const std::uint8_t*> row_ptrs_;       // vertical pass: the rows of one output row
  std::vector<int> index_;                          // nearest: source column of each output column
};

}  // namespace rsclip::data
