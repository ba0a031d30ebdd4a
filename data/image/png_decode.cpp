// PNG through libpng with no colour transforms (PIL applies neither gAMA, iCCP nor sBIT), in
// the modes of PngImagePlugin._MODES:
//   grey 1-bit "1"; grey 2/4/8-bit "L" (scaled by 85 / 17 as L;2 and L;4 unpack);
//   grey 16-bit "I;16" (all 16 bits kept); RGB 8/16-bit "RGB"; palette 1..8-bit "P";
//   grey+alpha 8-bit "LA"; grey+alpha 16-bit "RGBA" (L copied to R, G, B: PIL's "LA;16B");
//   RGBA 8/16-bit "RGBA".
// 16-bit samples other than grey keep their high byte (the ";16B" unpackers). Palette entries
// beyond the PLTE length are black (Pillow's ImagingPaletteNew zero-fills). tRNS does not
// change the mode or the RGB values. A truncated image is an error; data after the last IDAT
// is not read (PIL tolerates a missing IEND).
#include <png.h>

#include <array>
#include <csetjmp>
#include <cstring>

#include "data/image/image_codecs.h"

namespace rsclip::data::codec {
namespace {

struct Reader {
  std::span<const std::uint8_t> bytes;
  std::size_t pos = 0;
  char message[256] = {};
};

void read_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (length > r->bytes.size() - r->pos) png_error(png, "image file is truncated");
  std::memcpy(data, r->bytes.data() + r->pos, length);
  r->pos += length;
}

[[noreturn]] void on_error(png_structp png, png_const_charp message) {
  auto* r = static_cast<Reader*>(png_get_error_ptr(png));
  std::snprintf(r->message, sizeof(r->message), "%s", message);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

// Owns libpng's structs; declared before setjmp so that a longjmp back skips no destructor.
struct PngHandles {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngHandles() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

// Ancillary chunks PIL reads only as metadata; skipping them also skips their size limits
// and CRC failures in chunks that cannot change pixels.
constexpr std::array<const char*, 17> kIgnoredChunks = {"bKGD", "cHRM", "eXIf", "gAMA", "hIST", "iCCP",
                                                        "iTXt", "oFFs", "pCAL", "pHYs", "sBIT", "sCAL",
                                                        "sPLT", "sRGB", "tEXt", "tIME", "zTXt"};

// The pixel-count ceiling from IHDR (always the first chunk), checked before libpng reads further.
void check_ihdr_size(std::span<const std::uint8_t> bytes, const DecodeOptions& opts) {
  if (bytes.size() < 24 || std::memcmp(bytes.data() + 12, "IHDR", 4) != 0) return;
  const auto be32 = [&](std::size_t at) {
    return (std::uint32_t{bytes[at]} << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
  };
  check_size("PNG", be32(16), be32(20), opts);
}

// Reads from `reader`, skips the metadata chunks PIL does not decode, and checks CRCs and
// sizes as PIL does. Runs under decode_png's setjmp (no object here needs destroying).
void configure_reader(png_structp png, Reader& reader) {
  png_set_read_fn(png, &reader, read_bytes);
  std::array<png_byte, kIgnoredChunks.size() * 5> names{};
  for (std::size_t i = 0; i < kIgnoredChunks.size(); ++i) std::memcpy(&names[i * 5], kIgnoredChunks[i], 5);
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, names.data(), static_cast<int>(kIgnoredChunks.size()));
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, nullptr, 0);
  // PIL checks header-chunk CRCs and rejects mismatches.
  png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);  // decode_png's pixel-count check is the limit
}

// PIL's mode for the colour type and depth, with the libpng transforms that make its rows
// come out as that mode's bytes. 16-bit grey+alpha (`gray_alpha_16`) still needs L copied to
// R, G and B.
PixelMode choose_mode(png_structp png, int bit_depth, int color_type, bool& gray_alpha_16) {
  PixelMode mode;
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
      if (bit_depth == 16) {
        mode = PixelMode::I16;
        png_set_swap(png);  // big-endian in the file, native in the buffer
      } else {
        mode = bit_depth == 1 ? PixelMode::bilevel : PixelMode::L;
        if (bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
      }
      break;
    case PNG_COLOR_TYPE_RGB: mode = PixelMode::RGB; break;
    case PNG_COLOR_TYPE_PALETTE:
      mode = PixelMode::P;
      if (bit_depth < 8) png_set_packing(png);  // one index per byte, unscaled
      break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      gray_alpha_16 = bit_depth == 16;
      mode = gray_alpha_16 ? PixelMode::RGBA : PixelMode::LA;
      break;
    case PNG_COLOR_TYPE_RGB_ALPHA: mode = PixelMode::RGBA; break;
    default: fail("PNG", "unknown colour type " + std::to_string(color_type));
  }
  if (bit_depth == 16 && mode != PixelMode::I16) png_set_strip_16(png);  // high byte, as ";16B" unpacks
  return mode;
}

// The palette as PIL holds it: 256 entries, missing ones black.
void read_palette(png_structp png, png_infop info, PixelMode mode, std::array<std::uint8_t, 256 * 3>& palette) {
  palette.fill(0);
  if (mode != PixelMode::P) return;
  png_colorp entries = nullptr;
  int count = 0;
  if (png_get_PLTE(png, info, &entries, &count) != PNG_INFO_PLTE) fail("PNG", "palette image without PLTE");
  for (int i = 0; i < count && i < 256; ++i) {
    palette[3 * i] = entries[i].red;
    palette[3 * i + 1] = entries[i].green;
    palette[3 * i + 2] = entries[i].blue;
  }
}

// Reads every row of every pass into `out`. Rows that are not decoded in place (palette
// indices, 16-bit grey+alpha) go through `staging` and are converted after the last pass; the
// image's own last row would do as scratch but not for interlaced files. Runs under
// decode_png's setjmp (no object here needs destroying).
void read_rows(png_structp png, int passes, std::size_t rowbytes, bool in_place, std::vector<std::uint8_t>& staging,
               DecodedImage& out) {
  const int w = out.pixels.cols, hgt = out.pixels.rows;
  if (!in_place) {
    if (passes > 1) {
      staging.resize(rowbytes * static_cast<std::size_t>(hgt));  // interlaced: rows are revisited
    } else {
      staging.resize(rowbytes);
    }
  }
  for (int pass = 0; pass < passes; ++pass) {
    for (int y = 0; y < hgt; ++y) {
      std::uint8_t* dst = out.pixels.ptr<std::uint8_t>(y);
      std::uint8_t* row = in_place ? dst : staging.data() + (passes > 1 ? rowbytes * static_cast<std::size_t>(y) : 0);
      png_read_row(png, row, nullptr);
      if (in_place || pass + 1 < passes) continue;
      if (out.mode == PixelMode::P) {
        for (int x = 0; x < w; ++x) std::memcpy(dst + 3 * x, &out.palette[3 * row[x]], 3);
      } else {  // 16-bit grey+alpha, already cut to 8 bits: (L, A) -> (L, L, L, A)
        for (int x = 0; x < w; ++x) {
          dst[4 * x] = dst[4 * x + 1] = dst[4 * x + 2] = row[2 * x];
          dst[4 * x + 3] = row[2 * x + 1];
        }
      }
    }
  }
}

}  // namespace

void decode_png(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts) {
  check_ihdr_size(bytes, opts);
  Reader reader{bytes};
  PngHandles h;
  h.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, on_error, on_warning);
  if (!h.png) fail("PNG", "cannot create the libpng decoder");
  h.info = png_create_info_struct(h.png);
  if (!h.info) fail("PNG", "cannot create the libpng decoder");
  if (setjmp(png_jmpbuf(h.png))) fail("PNG", reader.message);

  configure_reader(h.png, reader);
  png_read_info(h.png, h.info);
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(h.png, h.info, &width, &height, &bit_depth, &color_type, &interlace, nullptr, nullptr);
  check_size("PNG", width, height, opts);

  bool gray_alpha_16 = false;
  const PixelMode mode = choose_mode(h.png, bit_depth, color_type, gray_alpha_16);
  const int passes = png_set_interlace_handling(h.png);
  png_read_update_info(h.png, h.info);
  read_palette(h.png, h.info, mode, out.palette);

  const int w = static_cast<int>(width), hgt = static_cast<int>(height);
  shape_image(out, mode, w, hgt);
  const std::size_t rowbytes = png_get_rowbytes(h.png, h.info);
  const bool in_place = mode != PixelMode::P && !gray_alpha_16;
  if (in_place && rowbytes != static_cast<std::size_t>(w) * out.pixels.elemSize()) fail("PNG", "unexpected row size");
  thread_local std::vector<std::uint8_t> staging;
  read_rows(h.png, passes, rowbytes, in_place, staging, out);
  trim_scratch(staging);
}

}  // namespace rsclip::data::codec
