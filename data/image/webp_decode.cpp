// WebP through libwebp, as Pillow's WebPImagePlugin: mode "RGBA" when the bitstream features
// say it has alpha, else "RGB"; default decoder options (fancy upsampling, no dithering);
// straight (non-premultiplied) alpha. Animated files give their first frame, composed by
// libwebp's animation decoder as Pillow's _webp.WebPAnimDecoder does.
#include <webp/decode.h>
#include <webp/demux.h>

#include <cstring>
#include <memory>

#include "data/image/image_codecs.h"

namespace rsclip::data::codec {
namespace {

struct AnimDecoderDeleter {
  void operator()(WebPAnimDecoder* d) const { WebPAnimDecoderDelete(d); }
};

void decode_first_frame(std::span<const std::uint8_t> bytes, DecodedImage& out, PixelMode mode) {
  WebPAnimDecoderOptions options;
  if (!WebPAnimDecoderOptionsInit(&options)) fail("WebP", "libwebp version mismatch");
  options.color_mode = MODE_RGBA;
  options.use_threads = 0;
  const WebPData data{bytes.data(), bytes.size()};
  std::unique_ptr<WebPAnimDecoder, AnimDecoderDeleter> decoder(WebPAnimDecoderNew(&data, &options));
  if (!decoder) fail("WebP", "could not parse the animation");
  WebPAnimInfo info;
  if (!WebPAnimDecoderGetInfo(decoder.get(), &info)) fail("WebP", "could not read the animation header");
  if (static_cast<int>(info.canvas_width) != out.width() || static_cast<int>(info.canvas_height) != out.height()) {
    fail("WebP", "canvas size differs from the bitstream features");
  }
  std::uint8_t* canvas = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(decoder.get(), &canvas, &timestamp)) fail("WebP", "failed to decode the first frame");
  const std::size_t n = out.pixels.total();
  std::uint8_t* dst = out.pixels.ptr<std::uint8_t>();
  if (mode == PixelMode::RGBA) {
    std::memcpy(dst, canvas, n * 4);
  } else {
    for (std::size_t i = 0; i < n; ++i) std::memcpy(dst + 3 * i, canvas + 4 * i, 3);
  }
}

}  // namespace

void decode_webp(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts) {
  WebPBitstreamFeatures features;
  const VP8StatusCode status = WebPGetFeatures(bytes.data(), bytes.size(), &features);
  if (status != VP8_STATUS_OK) fail("WebP", "invalid header (status " + std::to_string(status) + ")");
  check_size("WebP", features.width, features.height, opts);
  const PixelMode mode = features.has_alpha ? PixelMode::RGBA : PixelMode::RGB;
  shape_image(out, mode, features.width, features.height);
  if (features.has_animation) {
    decode_first_frame(bytes, out, mode);
    return;
  }
  const std::size_t size = out.pixels.total() * out.pixels.elemSize();
  const int stride = static_cast<int>(out.pixels.step[0]);
  std::uint8_t* dst = out.pixels.ptr<std::uint8_t>();
  const std::uint8_t* ok = mode == PixelMode::RGBA ? WebPDecodeRGBAInto(bytes.data(), bytes.size(), dst, size, stride)
                                                   : WebPDecodeRGBInto(bytes.data(), bytes.size(), dst, size, stride);
  if (!ok) fail("WebP", "could not decode the bitstream (corrupt or truncated)");
}

}  // namespace rsclip::data::codec
