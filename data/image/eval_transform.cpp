// The eval transform: open_clip's image_transform(is_train=False) on a PIL image, bit for bit
// (see transforms.h). Geometry follows torchvision 0.26 (Resize/_compute_resized_output_size,
// CenterCrop) and open_clip 3.3 (ResizeKeepRatio, CenterCropOrPad); pixels follow Pillow 12.0
// (Image.resize per mode, then convert("RGB")).
#include <algorithm>
#include <cstring>

#include <c10/util/Exception.h>

#include "data/image/image_codecs.h"
#include "data/image/pil_resample.h"
#include "data/image/transform_ops.h"
#include "data/image/transforms.h"

namespace rsclip::data {
namespace {

// Where the output comes from: the image is resized to `resized`; the part `window` of it
// (in resized coordinates) lands at `origin` in the size x size output; the rest is padding.
struct Plan {
  cv::Size resized;
  cv::Rect window;
  cv::Point origin;
};

Plan plan_geometry(const PreprocessConfig& cfg, int w, int h) {
  const int s = cfg.size;
  Plan p;
  if (cfg.resize_mode == "squash") {
    p.resized = {s, s};
    p.window = {0, 0, s, s};
    return p;
  }
  if (cfg.resize_mode == "shortest") {
    // torchvision _compute_resized_output_size: new_long = int(size * long / short).
    const int short_side = std::min(w, h), long_side = std::max(w, h);
    const int new_long = static_cast<int>(static_cast<double>(static_cast<std::int64_t>(s) * long_side) / short_side);
    p.resized = w <= h ? cv::Size(s, new_long) : cv::Size(new_long, s);
    // CenterCrop: int(round((h - th) / 2.0)), round half to even.
    p.window = {ops::round_half_even((p.resized.width - s) / 2.0), ops::round_half_even((p.resized.height - s) / 2.0),
                s, s};
    return p;
  }
  // "longest": ResizeKeepRatio(longest=1): ratio = max(h / s, w / s); side = round(side / ratio).
  // A side that would round to 0 (PIL would refuse the resize) becomes 1.
  const double ratio = std::max(static_cast<double>(h) / s, static_cast<double>(w) / s);
  p.resized = {std::max(1, ops::round_half_even(static_cast<double>(w) * 1.0 / ratio)),
               std::max(1, ops::round_half_even(static_cast<double>(h) * 1.0 / ratio))};
  // CenterCropOrPad: pad (s - side) // 2 before, then crop int(round((padded - s) / 2.0)).
  const auto axis = [s](int side, int& start, int& length, int& origin) {
    const int pad_before = s > side ? (s - side) / 2 : 0;
    const int padded = std::max(side, s);
    const int crop = ops::round_half_even((padded - s) / 2.0);
    const int offset = crop - pad_before;  // resized coordinate of output pixel 0
    start = std::max(0, offset);
    length = std::min(side, offset + s) - start;
    origin = start - offset;
  };
  axis(p.resized.width, p.window.x, p.window.width, p.origin.x);
  axis(p.resized.height, p.window.y, p.window.height, p.origin.y);
  return p;
}

inline std::uint8_t muldiv255(int a, int b) {  // Pillow's MULDIV255
  const int t = a * b + 128;
  return static_cast<std::uint8_t>(((t >> 8) + t) >> 8);
}

class EvalTransform final : public ImageTransform {
 public:
  explicit EvalTransform(const PreprocessConfig& cfg)
      : cfg_(cfg), table_(cfg), filter_(parse_resample_filter(cfg.interpolation)) {}

  int size() const override { return cfg_.size; }

  void apply(const cv::Mat& rgb, std::uint64_t seed, float* out) override {
    TORCH_CHECK(rgb.type() == CV_8UC3, "eval transform: expected CV_8UC3 RGB, got type ", rgb.type());
    view_.mode = PixelMode::RGB;
    view_.pixels = rgb;
    apply(view_, seed, out);
    view_.pixels.release();
  }

  void apply(const DecodedImage& image, std::uint64_t, float* out) override;

 private:
  PreprocessConfig cfg_;
  ops::NormalizeTable table_;
  ResampleFilter filter_;
  PilResizer resizer_;
  DecodedImage view_;
  cv::Mat premultiplied_, window_, window_rgb_, canvas_;
};

void EvalTransform::apply(const DecodedImage& image, std::uint64_t, float* out) {
  const cv::Mat& pixels = image.pixels;
  TORCH_CHECK(!pixels.empty() && pixels.type() == codec::pixel_type(image.mode),
              "eval transform: pixels do not match mode ", pil_mode_name(image.mode));
  const Plan plan = plan_geometry(cfg_, pixels.cols, pixels.rows);
  const int s = cfg_.size;

  // Image.resize: "1" and "P" always NEAREST; "LA"/"RGBA" through premultiplied "La"/"RGBa"
  // unless NEAREST (rgbA2rgba / lA2la, i.e. MULDIV255 of each colour by alpha).
  const PixelMode mode = image.mode;
  const ResampleFilter filter =
      (mode == PixelMode::P || mode == PixelMode::bilevel) ? ResampleFilter::nearest : filter_;
  const bool premultiply = (mode == PixelMode::RGBA || mode == PixelMode::LA) && filter != ResampleFilter::nearest &&
                           plan.resized != pixels.size();
  const cv::Mat* source = &pixels;
  if (premultiply) {
    premultiplied_.create(pixels.size(), pixels.type());
    const int cn = pixels.channels();
    for (int y = 0; y < pixels.rows; ++y) {
      const std::uint8_t* s_row = pixels.ptr<std::uint8_t>(y);
      std::uint8_t* d = premultiplied_.ptr<std::uint8_t>(y);
      for (int x = 0; x < pixels.cols; ++x) {
        const int a = s_row[cn * x + cn - 1];
        for (int c = 0; c < cn - 1; ++c) d[cn * x + c] = muldiv255(s_row[cn * x + c], a);
        d[cn * x + cn - 1] = static_cast<std::uint8_t>(a);
      }
    }
    source = &premultiplied_;
  }
  resizer_.resize(*source, plan.resized, filter, plan.window, window_);
  if (premultiply) {  // back to straight alpha: rgba2rgbA / la2lA
    const int cn = window_.channels();
    for (int y = 0; y < window_.rows; ++y) {
      std::uint8_t* p = window_.ptr<std::uint8_t>(y);
      for (int x = 0; x < window_.cols; ++x) {
        const int a = p[cn * x + cn - 1];
        if (a == 0 || a == 255) continue;
        for (int c = 0; c < cn - 1; ++c)
          p[cn * x + c] = static_cast<std::uint8_t>(std::min(255, 255 * p[cn * x + c] / a));
      }
    }
  }

  // convert("RGB") of the cropped window, then ToTensor + Normalize.
  const cv::Mat* rgb = &window_;
  if (mode != PixelMode::RGB && mode != PixelMode::P) {
    DecodedImage native{mode, window_};
    convert_to_rgb(native, window_rgb_);
    rgb = &window_rgb_;
  }
  if (plan.window.size() == cv::Size(s, s)) {
    ops::normalize_rgb(*rgb, table_, out);
    return;
  }
  // resize_mode "longest": pad with fill_color in the image's mode, converted to RGB (CMYK 0
  // is white; "1" is 0 or 255; "P" pads with palette index fill_color).
  const int f = cfg_.fill_color;
  cv::Scalar fill(f, f, f);
  if (mode == PixelMode::bilevel) fill = cv::Scalar::all(f ? 255 : 0);
  if (mode == PixelMode::CMYK) fill = cv::Scalar::all((255 - f) - muldiv255(f, 255 - f));
  if (mode == PixelMode::P) fill = cv::Scalar(image.palette[3 * f], image.palette[3 * f + 1], image.palette[3 * f + 2]);
  canvas_.create(s, s, CV_8UC3);
  canvas_.setTo(fill);
  rgb->copyTo(canvas_(cv::Rect(plan.origin, plan.window.size())));
  ops::normalize_rgb(canvas_, table_, out);
}

}  // namespace

std::unique_ptr<ImageTransform> make_eval_transform(const PreprocessConfig& cfg) {
  cfg.validate();
  return std::make_unique<EvalTransform>(cfg);
}

}  // namespace rsclip::data
