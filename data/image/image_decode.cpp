// Format detection, the shared decoder helpers and PIL's convert("RGB").
#include "data/image/image_decode.h"

#include <cstring>
#include <utility>

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include "data/image/image_codecs.h"

namespace rsclip::data {

ImageError::ImageError(Kind kind, std::string message, std::string where, std::string hint)
    : Error(std::move(message), std::move(where), std::move(hint)), kind_(kind) {}

ImageError ImageError::within(const std::string& outer) const {
  return ImageError(kind_, message(), where().empty() ? outer : outer + ": " + where(), hint());
}

const char* pil_mode_name(PixelMode mode) {
  switch (mode) {
    case PixelMode::bilevel: return "1";
    case PixelMode::L: return "L";
    case PixelMode::P: return "P";
    case PixelMode::LA: return "LA";
    case PixelMode::RGB: return "RGB";
    case PixelMode::RGBA: return "RGBA";
    case PixelMode::CMYK: return "CMYK";
    case PixelMode::I16: return "I;16";
  }
  return "?";
}

namespace codec {

void fail(const char* format, const std::string& message) {
  throw ImageError(ImageError::Kind::undecodable, fmt::format("{}: {}", format, message), {},
                   "the file is corrupt, truncated or uses a variant PIL cannot open either");
}

void check_size(const char* format, std::int64_t width, std::int64_t height, const DecodeOptions& opts) {
  if (width <= 0 || height <= 0) fail(format, fmt::format("invalid image size {}x{}", width, height));
  const auto too_large = [&](const std::string& what) {
    throw ImageError(ImageError::Kind::too_large, fmt::format("{}: image size {}x{} {}", format, width, height, what),
                     {}, "a possible decompression bomb; raise DecodeOptions::max_pixels if the image is genuine");
  };
  // Everything downstream indexes with int (as OpenCV does); this also keeps the product below
  // 2^62 for headers with 32-bit unsigned sides.
  if (width > (1 << 30) || height > (1 << 30)) too_large("has a side above 2^30 pixels");
  // PIL: pixels = max(1, w) * max(1, h); DecompressionBombError above 2 * MAX_IMAGE_PIXELS.
  const std::int64_t pixels = width * height;
  if (pixels > opts.max_pixels) {
    too_large(fmt::format("({} pixels) exceeds the limit of {} pixels", pixels, opts.max_pixels));
  }
  if (pixels > (std::int64_t{1} << 37)) too_large("is too large");
}

void shape_buffer(cv::Mat& m, int rows, int cols, int type) {
  if (m.rows == rows && m.cols == cols && m.type() == type && m.isContinuous() && m.dims == 2) return;
  const int depth = CV_MAT_DEPTH(type);
  const std::size_t elems = static_cast<std::size_t>(rows) * cols * CV_MAT_CN(type);
  if (!m.empty() && m.dims == 2 && m.isContinuous() && m.depth() == depth && !m.isSubmatrix()) {
    // View the allocation as one column of scalars; Mat::resize keeps the buffer while its
    // capacity (datalimit) suffices, then reshape gives the requested rows x cols x channels.
    cv::Mat flat = m.reshape(1, static_cast<int>(m.total() * m.channels()));
    flat.resize(elems);
    m = flat.reshape(CV_MAT_CN(type), rows);
    return;
  }
  m.create(rows, cols, type);
}

int pixel_type(PixelMode mode) {
  switch (mode) {
    case PixelMode::bilevel:
    case PixelMode::L: return CV_8UC1;
    case PixelMode::LA: return CV_8UC2;
    case PixelMode::P:
    case PixelMode::RGB: return CV_8UC3;
    case PixelMode::RGBA:
    case PixelMode::CMYK: return CV_8UC4;
    case PixelMode::I16: return CV_16UC1;
  }
  return CV_8UC3;
}

}  // namespace codec

namespace {

bool starts_with(std::span<const std::uint8_t> bytes, const char* magic, std::size_t offset = 0) {
  const std::size_t n = std::strlen(magic);
  return bytes.size() >= offset + n && std::memcmp(bytes.data() + offset, magic, n) == 0;
}

// TiffImagePlugin.PREFIXES: classic and BigTIFF, both byte orders (and the swapped forms
// PIL also accepts).
bool is_tiff(std::span<const std::uint8_t> bytes) {
  static constexpr std::uint8_t prefixes[6][4] = {{'M', 'M', 0, 0x2A}, {'I', 'I', 0x2A, 0}, {'M', 'M', 0x2A, 0},
                                                  {'I', 'I', 0, 0x2A}, {'M', 'M', 0, 0x2B}, {'I', 'I', 0x2B, 0}};
  if (bytes.size() < 4) return false;
  for (const auto& p : prefixes) {
    if (std::memcmp(bytes.data(), p, 4) == 0) return true;
  }
  return false;
}

}  // namespace

void decode_image(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts) {
  // The signatures PIL's plugins accept (their _accept functions).
  if (starts_with(bytes, "\xFF\xD8\xFF")) {
    codec::decode_jpeg(bytes, out, opts);
  } else if (starts_with(bytes, "\x89PNG\r\n\x1A\n")) {
    codec::decode_png(bytes, out, opts);
  } else if (starts_with(bytes, "RIFF") && starts_with(bytes, "WEBP", 8) &&
             (starts_with(bytes, "VP8 ", 12) || starts_with(bytes, "VP8L", 12) || starts_with(bytes, "VP8X", 12))) {
    codec::decode_webp(bytes, out, opts);
  } else if (is_tiff(bytes)) {
    codec::decode_tiff(bytes, out, opts);
  } else if (starts_with(bytes, "BM")) {
    codec::decode_bmp(bytes, out, opts);
  } else {
    throw ImageError(ImageError::Kind::undecodable,
                     bytes.empty() ? "empty image data" : "unknown image format (not JPEG, PNG, WebP, TIFF or BMP)", {},
                     "the first bytes match no supported signature");
  }
}

void decode_image(std::span<const std::uint8_t> bytes, cv::Mat& out, const DecodeOptions& opts) {
  // Two buffers per thread, swapped with `out`, so that an RGB image is decoded straight into
  // the caller's buffer and other modes are converted without allocating in steady state.
  thread_local DecodedImage native;
  std::swap(native.pixels, out);
  try {
    decode_image(bytes, native, opts);
  } catch (...) {
    std::swap(native.pixels, out);
    throw;
  }
  if (native.mode == PixelMode::RGB || native.mode == PixelMode::P) {
    std::swap(native.pixels, out);
  } else {
    convert_to_rgb(native, out);
  }
  if (native.pixels.total() * native.pixels.elemSize() > codec::kScratchKeepBytes) native.pixels.release();
}

void convert_to_rgb(const DecodedImage& in, cv::Mat& out) {
  const cv::Mat& src = in.pixels;
  TORCH_CHECK(src.type() == codec::pixel_type(in.mode), "convert_to_rgb: pixels do not match mode ",
              pil_mode_name(in.mode));
  TORCH_CHECK(out.data != src.data || src.empty(), "convert_to_rgb: output aliases input");
  codec::shape_buffer(out, src.rows, src.cols, CV_8UC3);
  const int w = src.cols;
  for (int y = 0; y < src.rows; ++y) {
    std::uint8_t* o = out.ptr<std::uint8_t>(y);
    switch (in.mode) {
      case PixelMode::P:
      case PixelMode::RGB: std::memcpy(o, src.ptr<std::uint8_t>(y), static_cast<std::size_t>(w) * 3); break;
      case PixelMode::bilevel:
      case PixelMode::L: {  // bit2rgb / l2rgb ("1" is stored as 0/255 already)
        const std::uint8_t* s = src.ptr<std::uint8_t>(y);
        for (int x = 0; x < w; ++x) o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = s[x];
        break;
      }
      case PixelMode::LA: {  // la2rgb: alpha dropped, not applied
        const std::uint8_t* s = src.ptr<std::uint8_t>(y);
        for (int x = 0; x < w; ++x) o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = s[2 * x];
        break;
      }
      case PixelMode::RGBA: {  // rgba2rgb
        const std::uint8_t* s = src.ptr<std::uint8_t>(y);
        for (int x = 0; x < w; ++x) {
          o[3 * x] = s[4 * x];
          o[3 * x + 1] = s[4 * x + 1];
          o[3 * x + 2] = s[4 * x + 2];
        }
        break;
      }
      case PixelMode::CMYK: {  // cmyk2rgb: nk = 255 - k; c' = nk - MULDIV255(c, nk)
        const std::uint8_t* s = src.ptr<std::uint8_t>(y);
        for (int x = 0; x < w; ++x) {
          const int nk = 255 - s[4 * x + 3];
          for (int c = 0; c < 3; ++c) {
            const int t = s[4 * x + c] * nk + 128;
            o[3 * x + c] = static_cast<std::uint8_t>(nk - (((t >> 8) + t) >> 8));
          }
        }
        break;
      }
      case PixelMode::I16: {  // I16_RGB: values above 255 saturate
        const std::uint16_t* s = src.ptr<std::uint16_t>(y);
        for (int x = 0; x < w; ++x) {
          o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = static_cast<std::uint8_t>(s[x] > 255 ? 255 : s[x]);
        }
        break;
      }
    }
  }
}

}  // namespace rsclip::data
