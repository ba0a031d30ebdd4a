// The image settings of a training config: `data.preprocess` (open_clip's PreprocessCfg) and
// `data.augment` (GeoRSCLIP's training augmentation); no OpenCV here, so config readers can
// include it (data/image/transforms.h makes the transforms).
#pragma once

#include <array>
#include <string>

namespace rsclip::data {

struct PreprocessConfig {  // open_clip PreprocessCfg; visit()-able
  int size = 224;
  std::array<double, 3> mean{0.48145466, 0.4578275, 0.40821073};
  std::array<double, 3> std{0.26862954, 0.26130258, 0.27577711};
  std::string interpolation = "bicubic";  // bicubic | bilinear | nearest
  std::string resize_mode = "shortest";   // shortest | longest | squash (open_clip)
  int fill_color = 0;                     // padding value of resize_mode "longest" (open_clip fill_color)
  template <class V>
  void visit(V& v) {
    v("size", size);
    v("mean", mean);
    v("std", std);
    v("interpolation", interpolation);
    v("resize_mode", resize_mode);
    v("fill_color", fill_color);
  }
  void validate() const;
};

struct AugmentConfig {                      // visit()-able; GeoRSCLIP defaults
  double scale_min = 0.9, scale_max = 1.0;  // RandomResizedCrop scale
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
  bool hflip = true;          // p = 0.5
  bool rotate = true;         // uniform 0..360 degrees
  double color_jitter = 0.0;  // 0 = off; else brightness/contrast/saturation strength
  int jpeg_min_side = 0;      // decode-time downscale for training (see DecodeOptions)
  // false: Pillow-equal crop + bicubic resize, as GeoRSCLIP's Python transform. true: OpenCV's
  // SIMD bilinear resize (area averaging when shrinking more than 2x) instead; jitter, flip and
  // rotation stay Pillow's. The transform takes about half the time; not pixel-equal.
  bool fast_resize = false;
  template <class V>
  void visit(V& v) {
    v("scale_min", scale_min);
    v("scale_max", scale_max);
    v("ratio_min", ratio_min);
    v("ratio_max", ratio_max);
    v("hflip", hflip);
    v("rotate", rotate);
    v("color_jitter", color_jitter);
    v("jpeg_min_side", jpeg_min_side);
    v("fast_resize", fast_resize);
  }
  void validate() const;
};

}  // namespace rsclip::data
