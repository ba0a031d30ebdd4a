// PilResizer's internal consistency (its equality with Pillow is transforms_test's job): the
// AVX2 row kernels equal the scalar ones, and a window of the output equals the same window
// cut from the full resize, for every channel count, both directions and odd sizes.
#include "data/image/pil_resample.h"

#include <random>

#include <gtest/gtest.h>

#include "core/base/error.h"

namespace rsclip::data {
namespace {

cv::Mat noise(int h, int w, int type, std::mt19937& rng) {
  cv::Mat m(h, w, type);
  if (CV_MAT_DEPTH(type) == CV_16U) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x)
        m.at<std::uint16_t>(y, x) = static_cast<std::uint16_t>(rng() % 4 == 0 ? 65535 : rng());
    }
  } else {
    // Runs of 0 and 255 next to random values make bicubic over- and undershoot (clamping).
    for (std::size_t i = 0; i < m.total() * m.elemSize(); ++i) {
      const unsigned r = rng() % 8;
      m.data[i] = static_cast<std::uint8_t>(r == 0 ? 0 : r == 1 ? 255 : rng());
    }
  }
  return m;
}

TEST(PilResample, SimdEqualsScalarAndWindowsEqualCrops) {
  std::mt19937 rng(42);
  PilResizer simd(true), scalar(false);
  const int types[] = {CV_8UC1, CV_8UC2, CV_8UC3, CV_8UC4, CV_16UC1};
  const cv::Size sizes[][2] = {{{257, 193}, {224, 168}},  {{64, 64}, {224, 224}}, {{600, 600}, {224, 224}},
                               {{1000, 90}, {2488, 224}}, {{17, 13}, {5, 3}},     {{300, 200}, {300, 150}},
                               {{300, 200}, {200, 200}},  {{1, 1}, {7, 9}}};
  int checked = 0;
  for (int type : types) {
    for (const auto& [in, out] : sizes) {
      for (ResampleFilter f : {ResampleFilter::bicubic, ResampleFilter::bilinear, ResampleFilter::nearest}) {
        const cv::Mat src = noise(in.height, in.width, type, rng);
        cv::Mat full, full_scalar, window;
        simd.resize(src, out, f, {0, 0, out.width, out.height}, full);
        scalar.resize(src, out, f, {0, 0, out.width, out.height}, full_scalar);
        ASSERT_EQ(cv::norm(full, full_scalar, cv::NORM_INF), 0) << "type " << type << " " << in << " -> " << out;
        const cv::Rect win(out.width / 3, out.height / 4, std::max(1, out.width / 2), std::max(1, out.height / 2));
        simd.resize(src, out, f, win, window);
        ASSERT_EQ(cv::norm(window, full(win), cv::NORM_INF), 0)
            << "window, type " << type << " " << in << " -> " << out;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 5 * 8 * 3);
}

TEST(PilResample, KernelsMatchPillowsWindowsAndNormalisation) {
  AxisKernel k;
  build_axis_kernel(256, 224, ResampleFilter::bicubic, k);
  // support = 2 * 256/224; ksize = ceil(support) * 2 + 1.
  EXPECT_EQ(k.ksize, 7);
  for (int x = 0; x < 224; ++x) {
    double sum = 0;
    std::int64_t fixed = 0;
    for (int i = 0; i < k.count[x]; ++i) {
      sum += k.weights[static_cast<std::size_t>(x) * k.ksize + i];
      fixed += k.fixed[static_cast<std::size_t>(x) * k.ksize + i];
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    EXPECT_NEAR(static_cast<double>(fixed), 1 << 22, k.count[x]);
    EXPECT_GE(k.first[x], 0);
    EXPECT_LE(k.first[x] + k.count[x], 256);
  }
  EXPECT_EQ(k.first[0], 0);  // the window is clamped at the border
  EXPECT_EQ(parse_resample_filter("bilinear"), ResampleFilter::bilinear);
  EXPECT_THROW(parse_resample_filter("lanczos"), Error);
}

}  // namespace
}  // namespace rsclip::data
