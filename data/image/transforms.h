// Image transforms from the model's preprocess config, equal to open_clip's image_transform.
//
// Eval (make_eval_transform): open_clip's eval pipeline on a PIL image, bit for bit:
//   shortest: Resize(size, interpolation) with torchvision's size rule (short side = size,
//             long side int(size * long / short)), CenterCrop(size) with offsets
//             int(round((h - size) / 2.0)) (round half to even);
//   longest:  ResizeKeepRatio(longest=1) (sides round(side / ratio)), CenterCropOrPad(fill);
//   squash:   Resize((size, size));
//   then convert("RGB"), ToTensor (/255 in float32) and Normalize ((x - mean) / std in float32).
//   open_clip converts to RGB *after* resizing, so PIL resizes in the image's own mode (see
//   image_decode.h); which one to call depends on what the Python loader hands the transform:
//     apply(DecodedImage)  = preprocess(Image.open(f)), e.g. open_clip_train's CsvDataset:
//                            NEAREST for "P" and "1", premultiplied alpha for "RGBA"/"LA",
//                            16-bit for "I;16", CMYK converted after resizing;
//     apply(rgb)           = preprocess(Image.open(f).convert("RGB")), e.g. torchvision's
//                            ImageFolder (pil_loader) and webdataset's "pilrgb".
//   For files that open as "RGB" (almost all JPEG/TIFF/PNG photos) both are the same.
//   Resampling is Pillow's (pil_resample.h), computed only for the pixels the crop keeps.
//
// Train (make_train_transform): RandomResizedCrop(size, scale, ratio, BICUBIC) with
//   torchvision's parameter sampling (10 tries, then the centre-crop fallback), optional colour
//   jitter, RandomHorizontalFlip(0.5), RandomRotation((0, 360)) with NEAREST, same output size,
//   fill 0, then ToTensor + Normalize. Given the same sampled parameters every step equals the
//   torchvision/PIL operation bit for bit (crop + Pillow bicubic resize; PIL's ImageEnhance
//   blends for jitter; Image.rotate's 16.16 fixed-point nearest sampling, with its 0/90/180/270
//   shortcuts). What differs from the Python pipeline: the random numbers (a per-sample
//   splitmix64 stream instead of torch's global generator; uniform draws in double rather than
//   float32), jitter is applied before flip and rotation (so the rotation's black corners stay
//   black), and the image is converted to RGB before cropping (PIL would crop and resize "P"
//   images with NEAREST and "RGBA" ones premultiplied).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "data/image/image_decode.h"
#include "data/image/transform_config.h"

namespace rsclip::data {

class ImageTransform {  // one instance per worker thread (holds scratch buffers; not thread-safe)
 public:
  virtual ~ImageTransform() = default;
  virtual int size() const = 0;
  // Writes 3*size*size floats (CHW, normalised) to out. All randomness comes from `seed`
  // (one per sample): same image + seed -> same output, whatever thread runs it.
  virtual void apply(const cv::Mat& rgb, std::uint64_t seed, float* out) = 0;
  // The same from an image in its PIL mode. The eval transform follows PIL's per-mode resize
  // here; the default converts to RGB first.
  virtual void apply(const DecodedImage& image, std::uint64_t seed, float* out);
};

std::unique_ptr<ImageTransform> make_eval_transform(const PreprocessConfig& cfg);
std::unique_ptr<ImageTransform> make_train_transform(const PreprocessConfig& cfg, const AugmentConfig& aug);

// The parameters the train transform drew for one sample (for tests and debugging).
struct TrainParams {
  int crop_top = 0, crop_left = 0, crop_height = 0, crop_width = 0;  // RandomResizedCrop (i, j, h, w)
  bool flipped = false;
  double angle = 0.0;                           // degrees; 0 when rotation is off
  std::array<double, 3> jitter{1.0, 1.0, 1.0};  // brightness, contrast, saturation factors
  std::array<int, 3> jitter_order{0, 1, 2};
};
// Draws the parameters `seed` gives for an image of the given size.
TrainParams sample_train_params(const AugmentConfig& aug, int width, int height, std::uint64_t seed);

// The train transform with given parameters (RGB input), for tests against the Python steps;
// fast_resize: with augment.fast_resize.
void apply_train_params(const PreprocessConfig& cfg, const cv::Mat& rgb, const TrainParams& params, float* out,
                        bool fast_resize = false);

}  // namespace rsclip::data
