// Image decoding equal to PIL: `Image.open(f).convert("RGB")` (Pillow 12.0) for JPEG, PNG,
// WebP, TIFF and BMP, pixel for pixel.
//
// Two levels:
//   decode_image(bytes, cv::Mat&)        8-bit RGB, what the training loader needs.
//   decode_image(bytes, DecodedImage&)   the image in the mode PIL opens it in ("L", "P",
//                                        "RGBA", "CMYK", "I;16", ...). open_clip's eval
//                                        transform resizes *before* convert("RGB"), and PIL
//                                        resizes modes differently (P and 1 with NEAREST,
//                                        RGBA and LA premultiplied, I;16 in 16 bits), so the
//                                        exact eval path starts from this.
// convert_to_rgb() turns the second into the first with Pillow's Convert.c rules.
//
// Decoder settings follow Pillow's plugins: JPEG via libjpeg-turbo at full size with ISLOW
// IDCT and fancy upsampling (JpegDecode.c; no draft mode), 4-component JPEGs are Adobe-
// inverted CMYK ("CMYK;I"); PNG without gamma or colour-profile transforms, 16-bit samples
// cut to their high byte except 16-bit grey (PngImagePlugin._MODES); TIFF modes as in
// TiffImagePlugin.OPEN_INFO; BMP as BmpImagePlugin (grey palettes become "L" or "1").
// Untrusted input: every size is checked before use and the pixel count is bounded before
// any pixel buffer is allocated; bad bytes give ImageError, never a crash.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include <opencv2/core.hpp>

#include "core/base/error.h"

namespace rsclip::data {

struct DecodeOptions {
  std::int64_t max_pixels = 2 * 89'478'485;  // PIL raises DecompressionBombError above 2 x MAX_IMAGE_PIXELS
  int jpeg_min_side = 0;                     // 0: full-size decode (PIL parity). N > 0: opt-in DCT-domain downscaling
                          // (libjpeg-turbo scale n/8) while both sides stay >= N (training fast path)
};

class ImageError : public rsclip::Error {
 public:
  enum class Kind { undecodable, too_large };
  ImageError(Kind kind, std::string message, std::string where = {}, std::string hint = {});
  Kind kind() const noexcept { return kind_; }
  // A copy with the location prefixed (the sample or file name), keeping the kind.
  ImageError within(const std::string& outer) const;

 private:
  Kind kind_;
};

// PIL image modes that decoding can produce (Image.open(...).mode).
enum class PixelMode : std::uint8_t {
  bilevel,  // "1": CV_8UC1 holding 0 or 255
  L,        // "L": CV_8UC1
  P,        // "P": the palette already applied, CV_8UC3 RGB (PIL resizes P with NEAREST, which
            //      commutes with the palette lookup)
  LA,       // "LA": CV_8UC2 (grey, alpha)
  RGB,      // "RGB": CV_8UC3
  RGBA,     // "RGBA": CV_8UC4, straight (not premultiplied) alpha
  CMYK,     // "CMYK": CV_8UC4 as PIL holds it (already un-inverted from Adobe JPEG polarity)
  I16,      // "I;16": CV_16UC1, native byte order
};
const char* pil_mode_name(PixelMode mode);

struct DecodedImage {
  PixelMode mode = PixelMode::RGB;
  cv::Mat pixels;  // continuous; see PixelMode for the type of each mode
  // "P" only: PIL's 256-entry RGB palette (entries the file does not define are black). The
  // pixels have it applied already; padding with a palette index needs it.
  std::array<std::uint8_t, 256 * 3> palette{};
  int width() const { return pixels.cols; }
  int height() const { return pixels.rows; }
};

// Decodes JPEG/PNG/WebP/TIFF/BMP (gray, palette, alpha, 16-bit, CMYK) to 8-bit RGB exactly as
// PIL's Image.open(f).convert("RGB"). `out` becomes CV_8UC3, RGB order, continuous; its buffer is
// reused when large enough (no per-sample allocation in steady state).
void decode_image(std::span<const std::uint8_t> bytes, cv::Mat& out, const DecodeOptions& opts = {});

// Decodes to the mode PIL opens the file in; `out.pixels` is reused when large enough.
void decode_image(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts = {});

// PIL's convert("RGB") of a decoded image (Convert.c: l2rgb, la2rgb, rgba2rgb, cmyk2rgb,
// I16_RGB, bit2rgb). `out` becomes CV_8UC3 and may not alias `in.pixels`.
void convert_to_rgb(const DecodedImage& in, cv::Mat& out);

}  // namespace rsclip::data
