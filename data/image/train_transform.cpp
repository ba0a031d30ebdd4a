// The train transform (see transforms.h): torchvision's RandomResizedCrop parameter sampling,
// Pillow's crop + bicubic resize, ImageEnhance colour jitter, horizontal flip and
// Image.rotate(angle, NEAREST, fillcolor=0), then ToTensor + Normalize. Flip, rotation and
// normalisation run as one pass over the output. augment.fast_resize swaps the bicubic resize
// for OpenCV's bilinear one.
#include <cstdio>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numbers>
#include <utility>

#include <c10/util/Exception.h>
#include <opencv2/imgproc.hpp>

#include "data/image/pil_resample.h"
#include "data/image/transform_ops.h"
#include "data/image/transforms.h"

namespace rsclip::data {
namespace {

// splitmix64: a per-sample stream fully determined by the sample's seed.
class SampleRandom {
 public:
  explicit SampleRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * (static_cast<double>(next() >> 11) * 0x1.0p-53); }
  // Uniform integer in [0, n), n >= 1 (rejection: no modulo bias).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
    std::uint64_t v;
    do v = next();
    while (v >= limit);
    return v % n;
  }

 private:
  std::uint64_t state_;
};

// Python's round(x, 15) (correctly rounded decimal, then back to double), as Image.rotate
// applies to the matrix entries.
double round15(double x) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.15f", x);
  return std::strtod(text, nullptr);
}

inline std::uint8_t blend(float degenerate, int value, float factor) {  // Blend.c ImagingBlend
  const float t = degenerate + factor * (static_cast<float>(value) - degenerate);
  return t <= 0.0F ? 0 : t >= 255.0F ? 255 : static_cast<std::uint8_t>(t);
}

inline int luma(const std::uint8_t* p) {  // Convert.c rgb2l: L24 >> 16
  return (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16;
}

// ImageEnhance Brightness (0), Contrast (1), Color (2) with Image.blend's shortcuts.
void enhance(cv::Mat& rgb, int which, double factor_d) {
  const float factor = static_cast<float>(factor_d);
  if (factor == 1.0F) return;
  float mean_luma = 0;
  if (which == 1) {
    double sum = 0;
    for (int y = 0; y < rgb.rows; ++y) {
      const std::uint8_t* p = rgb.ptr<std::uint8_t>(y);
      for (int x = 0; x < rgb.cols; ++x) sum += luma(p + 3 * x);
    }
    mean_luma = static_cast<float>(static_cast<int>(sum / (static_cast<double>(rgb.rows) * rgb.cols) + 0.5));
  }
  for (int y = 0; y < rgb.rows; ++y) {
    std::uint8_t* p = rgb.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, p += 3) {
      const float degenerate = which == 0 ? 0.0F : which == 1 ? mean_luma : static_cast<float>(luma(p));
      for (int c = 0; c < 3; ++c)
        p[c] = factor == 0.0F ? static_cast<std::uint8_t>(degenerate) : blend(degenerate, p[c], factor);
    }
  }
}

class TrainTransform final : public ImageTransform {
 public:
  TrainTransform(const PreprocessConfig& cfg, const AugmentConfig& aug) : cfg_(cfg), aug_(aug), table_(cfg) {}
  int size() const override { return cfg_.size; }

  void apply(const cv::Mat& rgb, std::uint64_t seed, float* out) override {
    TORCH_CHECK(rgb.type() == CV_8UC3, "train transform: expected CV_8UC3 RGB, got type ", rgb.type());
    const TrainParams p = sample_train_params(aug_, rgb.cols, rgb.rows, seed);
    run(rgb, p, out, aug_.fast_resize);
  }
  using ImageTransform::apply;

  void run(const cv::Mat& rgb, const TrainParams& p, float* out, bool fast_resize);

 private:
  void rotate_flip_normalize(const TrainParams& p, float* out) const;
  void rotate_right_angle(const TrainParams& p, double angle, float* out) const;

  PreprocessConfig cfg_;
  AugmentConfig aug_;
  ops::NormalizeTable table_;
  PilResizer resizer_;
  cv::Mat resized_;
};

void check_crop(const cv::Mat& rgb, const TrainParams& p) {
  TORCH_CHECK(p.crop_left >= 0 && p.crop_top >= 0 && p.crop_width > 0 && p.crop_height > 0 &&
                  p.crop_left + p.crop_width <= rgb.cols && p.crop_top + p.crop_height <= rgb.rows,
              "train transform: crop outside the image");
}

void TrainTransform::run(const cv::Mat& rgb, const TrainParams& p, float* out, bool fast_resize) {
  const int s = cfg_.size;
  check_crop(rgb, p);
  // F.resized_crop on PIL: img.crop(box).resize((s, s), BICUBIC) (open_clip fixes BICUBIC).
  const cv::Mat crop = rgb(cv::Rect(p.crop_left, p.crop_top, p.crop_width, p.crop_height));
  if (!fast_resize) {
    resizer_.resize(crop, {s, s}, ResampleFilter::bicubic, {0, 0, s, s}, resized_);
  } else {  // bilinear alone would alias when shrinking a lot
    const bool shrink = crop.cols > 2 * s || crop.rows > 2 * s;
    cv::resize(crop, resized_, {s, s}, 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  for (int which : p.jitter_order) enhance(resized_, which, p.jitter[which]);
  rotate_flip_normalize(p, out);
}

// Image.rotate's inverse matrix (centre (w/2, h/2), entries rounded to 15 decimals) as
// ImagingTransformAffine's 16.16 fixed-point nearest sampler (affine_fixed) holds it: output
// (x, y) reads the source at (a2 + x*a0 + y*a1, a5 + x*a3 + y*a4) >> 16, the half-pixel
// offsets folded into a2 and a5.
struct FixedAffine {
  int a0, a1, a2, a3, a4, a5;
};

inline FixedAffine fixed_rotation(double angle, int s) {
  const double center = s / 2.0;
  const double t = -(angle * (std::numbers::pi / 180.0));
  double m[6] = {round15(std::cos(t)), round15(std::sin(t)), 0.0, round15(-std::sin(t)), round15(std::cos(t)), 0.0};
  const double tx = m[0] * -center + m[1] * -center + m[2];
  const double ty = m[3] * -center + m[4] * -center + m[5];
  m[2] = tx + center;
  m[5] = ty + center;
  const auto fix = [](double v) {
    const double scaled = v * 65536.0 + 0.5;
    return scaled < 0 ? static_cast<int>(std::floor(scaled)) : static_cast<int>(scaled);
  };
  TORCH_CHECK(s < 16384, "train transform: size too large for Pillow's fixed-point rotation");
  const int a0 = fix(m[0]), a1 = fix(m[1]), a3 = fix(m[3]), a4 = fix(m[4]);
  const int a2 = fix(m[2] + m[0] * 0.5 + m[1] * 0.5);
  const int a5 = fix(m[5] + m[3] * 0.5 + m[4] * 0.5);
  return {a0, a1, a2, a3, a4, a5};
}

// The output pixels [xa, xb) of one row whose source (a2 + x*a0, a5 + x*a3) lies inside the
// s x s image. Along a row the source position moves linearly, so they are one interval: bound
// it in floating point, then settle its ends with the exact integer test, so that the caller
// can fill the rest black and sample the interval without bounds checks.
inline std::pair<int, int> inside_span(int a0, int a2, int a3, int a5, int s) {
  const std::int64_t limit = static_cast<std::int64_t>(s) << 16;
  const auto inside = [&](int x) {
    const std::int64_t xx = a2 + static_cast<std::int64_t>(x) * a0, yy = a5 + static_cast<std::int64_t>(x) * a3;
    return xx >= 0 && xx < limit && yy >= 0 && yy < limit;
  };
  double lo = 0.0, hi = s;
  for (const auto& [start, step] : {std::pair<double, double>{a2, a0}, {a5, a3}}) {  // 0 <= start + x*step < limit
    if (step == 0) {
      if (!(start >= 0 && start < static_cast<double>(limit))) hi = lo;
      continue;
    }
    const double e0 = -start / step, e1 = (static_cast<double>(limit) - start) / step;
    lo = std::max(lo, std::min(e0, e1));
    hi = std::min(hi, std::max(e0, e1));
  }
  int xa = std::clamp(static_cast<int>(std::floor(lo)), 0, s), xb = std::clamp(static_cast<int>(std::ceil(hi)), 0, s);
  if (xa > xb) xa = xb;
  while (xa < xb && !inside(xa)) ++xa;
  while (xa > 0 && inside(xa - 1)) --xa;
  while (xb > xa && !inside(xb - 1)) --xb;
  while (xb < s && xb > xa && inside(xb)) ++xb;
  return {xa, xb};
}

void TrainTransform::rotate_flip_normalize(const TrainParams& p, float* out) const {
  const int s = cfg_.size;
  const std::size_t plane = static_cast<std::size_t>(s) * s;
  // Image.rotate: angle % 360; 0 -> copy, 180 -> ROTATE_180, 90/270 on a square -> transpose.
  const double angle = std::fmod(p.angle, 360.0) + (p.angle < 0 ? 360.0 : 0.0);
  if (angle == 0.0 || angle == 90.0 || angle == 180.0 || angle == 270.0) {
    rotate_right_angle(p, angle, out);
    return;
  }
  auto [a0, a1, a2, a3, a4, a5] = fixed_rotation(angle, s);
  // Each output row: black where its source falls outside the image, nearest samples of the
  // flipped image inside.
  float* const planes[3] = {out, out + plane, out + 2 * plane};
  for (int y = 0; y < s; ++y, a2 += a1, a5 += a4) {
    const auto [xa, xb] = inside_span(a0, a2, a3, a5, s);
    const std::size_t row = static_cast<std::size_t>(y) * s;
    for (int c = 0; c < 3; ++c) {
      std::fill(planes[c] + row, planes[c] + row + xa, table_.value[c][0]);
      std::fill(planes[c] + row + xb, planes[c] + row + s, table_.value[c][0]);
    }
    int xx = a2 + xa * a0, yy = a5 + xa * a3;
    const std::size_t step = resized_.step[0];
    const std::uint8_t* base = resized_.data;
    const int flip_base = p.flipped ? s - 1 : 0, flip_sign = p.flipped ? -1 : 1;
    for (int x = xa; x < xb; ++x, xx += a0, yy += a3) {
      const std::uint8_t* px =
          base + static_cast<std::size_t>(yy >> 16) * step + 3 * (flip_base + flip_sign * (xx >> 16));
      planes[0][row + x] = table_.value[0][px[0]];
      planes[1][row + x] = table_.value[1][px[1]];
      planes[2][row + x] = table_.value[2][px[2]];
    }
  }
}

// Angles of 0, 90, 180 and 270 degrees move whole pixels: Image.rotate copies, turns by
// ROTATE_180 or transposes (the output is square) instead of resampling.
void TrainTransform::rotate_right_angle(const TrainParams& p, double angle, float* out) const {
  const int s = cfg_.size;
  const std::size_t plane = static_cast<std::size_t>(s) * s;
  // Output pixel (x, y) reads the flipped image at (xin, yin), i.e. resized_ at (sx, yin) with
  // sx = flipped ? s - 1 - xin : xin. Out of range -> fill 0 (normalised black).
  const auto emit = [&](int x, int y, int xin, int yin) {
    const std::size_t o = static_cast<std::size_t>(y) * s + x;
    if (xin < 0 || xin >= s || yin < 0 || yin >= s) {
      out[o] = table_.value[0][0];
      out[plane + o] = table_.value[1][0];
      out[2 * plane + o] = table_.value[2][0];
      return;
    }
    const std::uint8_t* px = resized_.ptr<std::uint8_t>(yin) + 3 * (p.flipped ? s - 1 - xin : xin);
    out[o] = table_.value[0][px[0]];
    out[plane + o] = table_.value[1][px[1]];
    out[2 * plane + o] = table_.value[2][px[2]];
  };
  for (int y = 0; y < s; ++y) {
    for (int x = 0; x < s; ++x) {
      if (angle == 0.0) {
        emit(x, y, x, y);
      } else if (angle == 180.0) {
        emit(x, y, s - 1 - x, s - 1 - y);
      } else if (angle == 90.0) {
        emit(x, y, s - 1 - y, x);  // counter-clockwise
      } else {
        emit(x, y, y, s - 1 - x);
      }
    }
  }
}

}  // namespace

TrainParams sample_train_params(const AugmentConfig& aug, int width, int height, std::uint64_t seed) {
  TORCH_CHECK(width > 0 && height > 0, "sample_train_params: empty image");
  SampleRandom rng(seed);
  TrainParams p;
  // RandomResizedCrop.get_params.
  const double area = static_cast<double>(height) * width;
  const double log_lo = std::log(aug.ratio_min), log_hi = std::log(aug.ratio_max);
  bool found = false;
  for (int attempt = 0; attempt < 10 && !found; ++attempt) {
    const double target_area = area * rng.uniform(aug.scale_min, aug.scale_max);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const int w = ops::round_half_even(std::sqrt(target_area * aspect));
    const int h = ops::round_half_even(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      p.crop_top = static_cast<int>(rng.below(static_cast<std::uint64_t>(height - h + 1)));
      p.crop_left = static_cast<int>(rng.below(static_cast<std::uint64_t>(width - w + 1)));
      p.crop_height = h;
      p.crop_width = w;
      found = true;
    }
  }
  if (!found) {  // centre-crop fallback
    const double in_ratio = static_cast<double>(width) / height;
    int w = width, h = height;
    if (in_ratio < aug.ratio_min) {
      h = ops::round_half_even(w / aug.ratio_min);
    } else if (in_ratio > aug.ratio_max) {
      w = ops::round_half_even(h * aug.ratio_max);
    }
    p.crop_height = std::clamp(h, 1, height);
    p.crop_width = std::clamp(w, 1, width);
    p.crop_top = (height - p.crop_height) / 2;
    p.crop_left = (width - p.crop_width) / 2;
  }
  // ColorJitter.get_params: a random order, then one factor per enabled adjustment.
  if (aug.color_jitter > 0) {
    p.jitter_order = {0, 1, 2};
    for (int i = 2; i > 0; --i)
      std::swap(p.jitter_order[i], p.jitter_order[rng.below(static_cast<std::uint64_t>(i + 1))]);
    for (double& f : p.jitter) f = rng.uniform(std::max(0.0, 1.0 - aug.color_jitter), 1.0 + aug.color_jitter);
  }
  if (aug.hflip) p.flipped = rng.uniform(0.0, 1.0) < 0.5;
  if (aug.rotate) p.angle = rng.uniform(0.0, 360.0);
  return p;
}

void apply_train_params(const PreprocessConfig& cfg, const cv::Mat& rgb, const TrainParams& params, float* out,
                        bool fast_resize) {
  TORCH_CHECK(rgb.type() == CV_8UC3, "apply_train_params: expected CV_8UC3 RGB");
  TrainTransform(cfg, AugmentConfig{}).run(rgb, params, out, fast_resize);
}

std::unique_ptr<ImageTransform> make_train_transform(const PreprocessConfig& cfg, const AugmentConfig& aug) {
  cfg.validate();
  aug.validate();
  return std::make_unique<TrainTransform>(cfg, aug);
}

}  // namespace rsclip::data
