// The train transform without Python: determinism per seed across threads, the statistics of
// the sampled parameters (RandomResizedCrop scale/ratio, flip rate, angles), the centre-crop
// fallback, the preprocess/augment configs, and augment.fast_resize against the
// Pillow-equal path.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/config.h"
#include "data/image/transforms.h"

namespace rsclip::data {
namespace {

cv::Mat test_picture(int h, int w) {
  cv::Mat rgb(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) rgb.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 255 / w, y * 255 / h, (3 * x + y) & 255);
  }
  return rgb;
}

std::vector<float> run(ImageTransform& t, const cv::Mat& img, std::uint64_t seed) {
  std::vector<float> out(3 * static_cast<std::size_t>(t.size()) * t.size());
  t.apply(img, seed, out.data());
  return out;
}

class TrainTransformBoth : public ::testing::TestWithParam<bool> {};  // param: augment.fast_resize

TEST_P(TrainTransformBoth, SameSeedSameOutputOnAnyThread) {
  PreprocessConfig cfg;
  cfg.size = 96;
  AugmentConfig aug;
  aug.color_jitter = 0.3;
  aug.fast_resize = GetParam();
  const cv::Mat img = test_picture(150, 200);
  auto t = make_train_transform(cfg, aug);
  std::vector<std::vector<float>> sequential;
  for (std::uint64_t seed = 0; seed < 32; ++seed) sequential.push_back(run(*t, img, seed));
  EXPECT_EQ(run(*t, img, 5), sequential[5]);
  EXPECT_NE(sequential[5], sequential[6]);
  std::vector<std::vector<float>> threaded(32);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      auto mine = make_train_transform(cfg, aug);
      for (int k = 7; k >= 0; --k) {  // a different order than above
        const auto seed = static_cast<std::uint64_t>(4 * k + w);
        threaded[seed] = run(*mine, img, seed);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (std::size_t s = 0; s < 32; ++s) EXPECT_EQ(threaded[s], sequential[s]) << "seed " << s;
}

INSTANTIATE_TEST_SUITE_P(ExactAndFastResize, TrainTransformBoth, ::testing::Bool());

// fast_resize against the Pillow-equal path: the same floats when there is nothing to resize,
// and close on a smooth picture for random crops, flips and angles, with the same black
// corners.
TEST(TrainTransform, FastResizeAgreesWithExact) {
  PreprocessConfig cfg;
  cfg.size = 64;
  const std::size_t n = 3 * 64 * 64;
  std::vector<float> exact(n), fast(n);
  const cv::Mat square = test_picture(64, 64);
  for (double angle : {0.0, 90.0, 180.0, 270.0, 33.0}) {
    for (bool flip : {false, true}) {
      TrainParams p;
      p.crop_width = p.crop_height = 64;
      p.angle = angle;
      p.flipped = flip;
      apply_train_params(cfg, square, p, exact.data());
      apply_train_params(cfg, square, p, fast.data(), /*fast_resize=*/true);
      for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(fast[i], exact[i]) << "angle " << angle << " flip " << flip << " at " << i;
    }
  }
  cv::Mat smooth(150, 200, CV_8UC3);
  for (int y = 0; y < smooth.rows; ++y) {
    for (int x = 0; x < smooth.cols; ++x) {
      smooth.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<std::uint8_t>(127 + 120 * std::sin(x * 0.05)),
                                             static_cast<std::uint8_t>(127 + 120 * std::cos(y * 0.07)),
                                             static_cast<std::uint8_t>((x + y) * 255 / 350));
    }
  }
  const float black = static_cast<float>((0.0 - cfg.mean[0]) / cfg.std[0]);
  AugmentConfig aug;
  double worst_mean = 0;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    const TrainParams p = sample_train_params(aug, smooth.cols, smooth.rows, seed);
    apply_train_params(cfg, smooth, p, exact.data());
    apply_train_params(cfg, smooth, p, fast.data(), /*fast_resize=*/true);
    double sum = 0;
    int both = 0, one = 0;
    for (std::size_t i = 0; i < 64 * 64; ++i) {
      const bool a = exact[i] == black, b = fast[i] == black;
      if (a != b) {
        ++one;
      } else if (!a) {
        ++both;
        for (int c = 0; c < 3; ++c) sum += std::abs(exact[c * 64 * 64 + i] - fast[c * 64 * 64 + i]);
      }
    }
    const double mean = sum / (3.0 * std::max(both, 1));
    worst_mean = std::max(worst_mean, mean);
    EXPECT_LT(mean, 0.02) << "seed " << seed;  // about 1 grey level
    EXPECT_EQ(one, 0) << "seed " << seed;      // the rotation is the same: so are the black corners
  }
  std::printf("  fast_resize vs exact: worst mean |difference| %.4f (normalised units)\n", worst_mean);
}

TEST(TrainTransform, ParameterStatistics) {
  AugmentConfig aug;  // GeoRSCLIP: scale 0.9-1.0, ratio 3/4-4/3, flip, rotation
  aug.color_jitter = 0.4;
  const int w = 256, h = 192, n = 4000;
  int flips = 0;
  double angle_sum = 0, area_min = 1e9, area_max = 0;
  for (int seed = 0; seed < n; ++seed) {
    const TrainParams p = sample_train_params(aug, w, h, static_cast<std::uint64_t>(seed));
    ASSERT_GE(p.crop_top, 0);
    ASSERT_GE(p.crop_left, 0);
    ASSERT_LE(p.crop_top + p.crop_height, h);
    ASSERT_LE(p.crop_left + p.crop_width, w);
    const double area = static_cast<double>(p.crop_width) * p.crop_height / (w * h);
    area_min = std::min(area_min, area);
    area_max = std::max(area_max, area);
    // Width and height are rounded separately: the area may leave [0.9, 1] by a rounding step.
    EXPECT_GE(area, 0.9 - 2.0 / h);
    EXPECT_LE(area, 1.0);
    const double ratio = static_cast<double>(p.crop_width) / p.crop_height;
    EXPECT_GE(ratio, 0.75 - 0.02);
    EXPECT_LE(ratio, 4.0 / 3.0 + 0.02);
    flips += p.flipped;
    EXPECT_GE(p.angle, 0.0);
    EXPECT_LT(p.angle, 360.0);
    angle_sum += p.angle;
    std::array<int, 3> order = p.jitter_order;
    std::sort(order.begin(), order.end());
    EXPECT_EQ(order, (std::array<int, 3>{0, 1, 2}));
    for (double f : p.jitter) {
      EXPECT_GE(f, 0.6);
      EXPECT_LE(f, 1.4);
    }
  }
  const double flip_rate = static_cast<double>(flips) / n;
  std::printf("  crop area %.3f..%.3f of the image, flip rate %.3f, mean angle %.1f\n", area_min, area_max, flip_rate,
              angle_sum / n);
  EXPECT_NEAR(flip_rate, 0.5, 0.03);
  EXPECT_NEAR(angle_sum / n, 180.0, 6.0);
  EXPECT_LT(area_min, 0.92);
  EXPECT_GT(area_max, 0.98);
}

TEST(TrainTransform, OffSwitchesAndFallbackCrop) {
  AugmentConfig aug;
  aug.hflip = false;
  aug.rotate = false;
  // 1000 x 10: no crop of area >= 90 % fits a 3/4..4/3 ratio, so torchvision falls back to
  // the centred crop of the largest allowed ratio: h = 10, w = round(10 * 4/3) = 13.
  const TrainParams p = sample_train_params(aug, 1000, 10, 7);
  EXPECT_EQ(p.crop_height, 10);
  EXPECT_EQ(p.crop_width, 13);
  EXPECT_EQ(p.crop_left, (1000 - 13) / 2);
  EXPECT_EQ(p.crop_top, 0);
  EXPECT_FALSE(p.flipped);
  EXPECT_EQ(p.angle, 0.0);
  EXPECT_EQ(p.jitter, (std::array<double, 3>{1.0, 1.0, 1.0}));
}

TEST(TrainTransform, RotationLeavesBlackCornersAndFlipMirrors) {
  PreprocessConfig cfg;
  cfg.size = 64;
  const cv::Mat img = test_picture(64, 64);
  TrainParams p;
  p.crop_width = p.crop_height = 64;  // the whole image, no resize
  std::vector<float> plain(3 * 64 * 64), flipped(3 * 64 * 64), rotated(3 * 64 * 64);
  apply_train_params(cfg, img, p, plain.data());
  p.flipped = true;
  apply_train_params(cfg, img, p, flipped.data());
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) ASSERT_EQ(flipped[y * 64 + x], plain[y * 64 + 63 - x]);
  }
  p.flipped = false;
  p.angle = 45;
  apply_train_params(cfg, img, p, rotated.data());
  const float black_r = static_cast<float>((0.0 - cfg.mean[0]) / cfg.std[0]);
  EXPECT_NEAR(rotated[0], black_r, 1e-6);                        // top-left corner is outside the rotated image
  EXPECT_NEAR(rotated[32 * 64 + 32], plain[32 * 64 + 32], 0.1);  // the centre stays (near) put
}

TEST(TrainTransform, DecodedImageInputIsConvertedToRgb) {
  PreprocessConfig cfg;
  cfg.size = 32;
  auto t = make_train_transform(cfg, AugmentConfig{});
  DecodedImage grey{PixelMode::L, cv::Mat(40, 50, CV_8UC1, cv::Scalar(128))};
  std::vector<float> out(3 * 32 * 32);
  t->apply(grey, 3, out.data());
  // Inside the rotated picture every channel is 128 normalised; corners are black.
  const float v = out[16 * 32 + 16];
  EXPECT_NEAR(v, (128.0 / 255.0 - cfg.mean[0]) / cfg.std[0], 1e-6);
}

TEST(TransformConfig, ReadsAndValidates) {
  auto pre = config::read<PreprocessConfig>(
      YAML::Load("size: 256\nmean: [0.5, 0.5, 0.5]\nstd: [0.25, 0.25, 0.25]\ninterpolation: bilinear\n"));
  EXPECT_EQ(pre.size, 256);
  EXPECT_EQ(pre.mean[1], 0.5);
  EXPECT_EQ(pre.interpolation, "bilinear");
  EXPECT_THROW(config::read<PreprocessConfig>(YAML::Load("resize_mode: crop\n")), Error);
  EXPECT_THROW(config::read<PreprocessConfig>(YAML::Load("mean: [0.5, 0.5]\n")), Error);
  EXPECT_THROW(config::read<PreprocessConfig>(YAML::Load("interpolation: lanczos\n")), Error);
  auto aug = config::read<AugmentConfig>(YAML::Load("scale_min: 0.5\ncolor_jitter: 0.2\n"));
  EXPECT_EQ(aug.scale_min, 0.5);
  EXPECT_EQ(aug.scale_max, 1.0);
  EXPECT_THROW(config::read<AugmentConfig>(YAML::Load("scale_min: 1.5\n")), Error);
  const YAML::Node written = config::write(pre);
  EXPECT_EQ(config::read<PreprocessConfig>(written).mean, pre.mean);
}

}  // namespace
}  // namespace rsclip::data
