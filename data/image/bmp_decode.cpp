// BMP, parsed here as Pillow's BmpImagePlugin parses it (OpenCV's reader differs in the modes
// it reports and in 16-bit scaling):
//   headers of 12 (OS/2, BGR palette) or 40/52/56/64/108/124 bytes; negative height = top-down;
//   1/4/8-bit palettes -> "P", or "1" / "L" when the palette is the grey ramp PIL detects;
//   16-bit 5-5-5 (default) or 5-6-5 bitfields scaled as v * 255 / 31 (or 63); 24-bit BGR;
//   32-bit BGRX -> "RGB" (alpha ignored without bitfields), bitfields with alpha -> "RGBA";
//   RLE8 / RLE4 as Pillow's BmpRleDecoder, including its handling of delta and odd runs.
// Grey palettes of 4 or fewer bits that are not the 2-colour "1" case decode as "P" (PIL would
// read them through the "L" unpacker, whose output does not match the picture).
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "data/image/image_codecs.h"

namespace rsclip::data::codec {
namespace {

std::uint32_t u16(const std::uint8_t* p) { return p[0] | (p[1] << 8); }
std::uint32_t u32(const std::uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

[[noreturn]] void bad(const std::string& message) { fail("BMP", message); }

struct Header {
  std::uint32_t width = 0, height = 0, bits = 0, compression = 0, colors = 0;
  bool top_down = false;
  int palette_padding = 4;
  std::array<std::uint32_t, 4> masks{};  // r, g, b, a (BITFIELDS)
};

enum Compression : std::uint32_t { kRaw = 0, kRle8 = 1, kRle4 = 2, kBitfields = 3 };

// Pillow's BmpRleDecoder, step for step, producing one index per pixel in file row order.
void decode_rle(std::span<const std::uint8_t> bytes, std::size_t pos, const Header& h,
                std::vector<std::uint8_t>& data) {
  const bool rle4 = h.compression == kRle4;
  const std::size_t xsize = h.width, dest = static_cast<std::size_t>(h.width) * h.height;
  data.clear();
  data.reserve(dest);
  std::size_t x = 0;
  const auto take = [&](std::size_t n) {
    const std::size_t got = std::min(n, bytes.size() - std::min(pos, bytes.size()));
    const std::uint8_t* p = bytes.data() + pos;
    pos += got;
    return std::span<const std::uint8_t>(p, got);
  };
  while (data.size() < dest) {
    const auto pair = take(2);
    if (pair.size() < 2) break;
    const std::size_t count = pair[0];
    const std::uint8_t value = pair[1];
    if (count) {  // encoded run, clipped at the row end
      const std::size_t n = x + count > xsize ? (xsize > x ? xsize - x : 0) : count;
      for (std::size_t i = 0; i < n; ++i) data.push_back(rle4 ? (i % 2 == 0 ? value >> 4 : value & 0x0F) : value);
      x += n;
    } else if (value == 0) {  // end of line
      while (data.size() % xsize != 0) data.push_back(0);
      x = 0;
    } else if (value == 1) {  // end of bitmap
      break;
    } else if (value == 2) {  // delta: Pillow reads two bytes, then uses the next two
      if (take(2).size() < 2) break;
      const auto d = take(2);
      if (d.size() < 2) bad("truncated RLE delta");
      data.insert(data.end(), d[0] + static_cast<std::size_t>(d[1]) * xsize, 0);
      x = data.size() % xsize;
    } else {  // absolute run (not clipped), padded to an even file offset
      const std::size_t want = rle4 ? value / 2 : value;
      const auto run = take(want);
      for (std::uint8_t b : run) {
        if (rle4) {
          data.push_back(b >> 4);
          data.push_back(b & 0x0F);
        } else {
          data.push_back(b);
        }
      }
      if (run.size() < want) break;
      x += value;
      if (pos % 2 != 0) ++pos;
    }
    if (data.size() > dest + xsize * 256) bad("RLE data overflows the image");
  }
  if (data.size() < dest) bad("not enough image data");
}

// The info header: 12 bytes (OS/2) or 40..124 bytes (Windows). `pos` starts just past it and
// moves past the masks that follow a 40-byte BITFIELDS header, so that it ends where the
// palette starts.
Header read_info_header(std::span<const std::uint8_t> bytes, std::uint32_t header_size, std::size_t& pos) {
  const std::uint8_t* hd = bytes.data() + 18;  // header data after its size field
  Header h;
  if (header_size == 12) {
    h.width = u16(hd);
    h.height = u16(hd + 2);
    h.bits = u16(hd + 6);
    h.compression = kRaw;
    h.palette_padding = 3;
  } else if (header_size == 40 || header_size == 52 || header_size == 56 || header_size == 64 || header_size == 108 ||
             header_size == 124) {
    h.top_down = hd[7] == 0xFF;
    h.width = u32(hd);
    h.height = h.top_down ? static_cast<std::uint32_t>(0x1'0000'0000ull - u32(hd + 4)) : u32(hd + 4);
    h.bits = u16(hd + 10);
    h.compression = u32(hd + 12);
    h.colors = u32(hd + 28);
    if (h.compression == kBitfields) {
      if (header_size >= 52) {
        for (int i = 0; i < (header_size >= 56 ? 4 : 3); ++i) h.masks[i] = u32(hd + 36 + 4 * i);
      } else {
        if (bytes.size() < pos + 12) bad("truncated bitfield masks");
        for (int i = 0; i < 3; ++i) h.masks[i] = u32(bytes.data() + pos + 4 * i);
        pos += 12;
      }
    }
  } else {
    bad(fmt::format("unsupported BMP header type ({})", header_size));
  }
  return h;
}

// Pixel layout, as the raw mode Pillow picks.
enum class Layout { palette, bgr15, bgr16, bgr24, masked32 };

struct PixelFormat {
  Layout layout = Layout::palette;
  PixelMode mode = PixelMode::RGB;
  std::array<int, 4> byte_index{2, 1, 0, -1};  // r, g, b, a byte offsets for 32-bit pixels (BGRX)
};

// The byte of each channel (-1: none) of 32-bit BITFIELDS pixels: only the layouts of Pillow's
// SUPPORTED[32] / MASK_MODES are accepted, as Pillow accepts no others.
std::array<int, 4> masked32_byte_index(const std::array<std::uint32_t, 4>& masks) {
  struct Known {
    std::array<std::uint32_t, 4> masks;
    std::array<int, 4> bytes;
  };
  static constexpr std::array<Known, 8> known{{
      {{0xFF0000, 0xFF00, 0xFF, 0}, {2, 1, 0, -1}},          // BGRX
      {{0xFF000000, 0xFF0000, 0xFF00, 0}, {3, 2, 1, -1}},    // XBGR
      {{0xFF000000, 0xFF00, 0xFF, 0}, {3, 1, 0, -1}},        // BGXR
      {{0xFF000000, 0xFF0000, 0xFF00, 0xFF}, {3, 2, 1, 0}},  // ABGR
      {{0xFF, 0xFF00, 0xFF0000, 0xFF000000}, {0, 1, 2, 3}},  // RGBA
      {{0xFF0000, 0xFF00, 0xFF, 0xFF000000}, {2, 1, 0, 3}},  // BGRA
      {{0xFF000000, 0xFF00, 0xFF, 0xFF0000}, {3, 1, 0, 2}},  // BGAR
      {{0, 0, 0, 0}, {2, 1, 0, 3}},                          // BGRA
  }};
  const auto* match = std::find_if(known.begin(), known.end(), [&](const Known& k) { return k.masks == masks; });
  if (match == known.end()) bad("unsupported BMP bitfields layout");
  return match->bytes;
}

// The layout from depth and compression; BITFIELDS masks may only restate a layout Pillow knows.
// The mode is final here except for palettes, whose colours decide between "P", "1" and "L".
PixelFormat pixel_format(const Header& h) {
  PixelFormat f;
  switch (h.bits) {
    case 1:
    case 4:
    case 8:
      f.layout = Layout::palette;
      f.mode = PixelMode::P;
      break;
    case 16: f.layout = Layout::bgr15; break;
    case 24: f.layout = Layout::bgr24; break;
    case 32: f.layout = Layout::masked32; break;
    default: bad(fmt::format("unsupported BMP pixel depth ({})", h.bits));
  }
  if (h.compression == kBitfields) {
    const auto& m = h.masks;
    if (h.bits == 32) {
      f.byte_index = masked32_byte_index(m);
      if (f.byte_index[3] >= 0) f.mode = PixelMode::RGBA;
    } else if (h.bits == 24 && m[0] == 0xFF0000 && m[1] == 0xFF00 && m[2] == 0xFF) {
      f.layout = Layout::bgr24;
    } else if (h.bits == 16 && m[0] == 0xF800 && m[1] == 0x7E0 && m[2] == 0x1F) {
      f.layout = Layout::bgr16;
    } else if (h.bits == 16 && m[0] == 0x7C00 && m[1] == 0x3E0 && m[2] == 0x1F) {
      f.layout = Layout::bgr15;
    } else {
      bad("unsupported BMP bitfields layout");
    }
  } else if (h.compression == kRle8 || h.compression == kRle4) {
    if (f.layout != Layout::palette) bad("RLE compression needs a palette");
  } else if (h.compression != kRaw) {
    bad(fmt::format("unsupported BMP compression ({})", h.compression));
  }
  return f;
}

// Reads the palette (stored BGR(X) right after the headers, at `pos`) into `palette` as RGB and
// returns the mode PIL gives it: "1" or "L" when it is the grey ramp PIL detects, else "P".
// Entries cut off by the end of the file stay black and make the palette not grey.
PixelMode read_palette(std::span<const std::uint8_t> bytes, std::size_t pos, const Header& h,
                       std::array<std::uint8_t, 256 * 3>& palette) {
  if (h.colors == 0 || h.colors > 256) bad(fmt::format("unsupported BMP palette size ({})", h.colors));
  const std::size_t pad = static_cast<std::size_t>(h.palette_padding);
  const std::size_t available = std::min<std::size_t>(pad * h.colors, bytes.size() - std::min(pos, bytes.size()));
  const std::uint8_t* pal = bytes.data() + pos;
  bool grey = true;
  for (std::uint32_t i = 0; i < h.colors; ++i) {
    const std::uint32_t expected = h.colors == 2 ? (i == 0 ? 0 : 255) : i;
    const bool complete = pad * i + 3 <= available;
    if (!complete || pal[pad * i + 2] != expected || pal[pad * i + 1] != expected || pal[pad * i] != expected) {
      grey = false;
    }
    if (complete) {  // stored BGR(X)
      palette[3 * i] = pal[pad * i + 2];
      palette[3 * i + 1] = pal[pad * i + 1];
      palette[3 * i + 2] = pal[pad * i];
    }
  }
  PixelMode mode = PixelMode::P;
  if (grey && h.colors == 2 && h.bits == 1) {
    mode = PixelMode::bilevel;
  } else if (grey && h.bits == 8) {
    mode = PixelMode::L;
  }
  if (mode == PixelMode::bilevel && h.compression != kRaw) bad("RLE data for a 1-bit image");
  return mode;
}

// The stored rows, bottom-up or top-down as the header says: the file's own bytes, or the RLE
// data expanded into `rle` (one index per byte, rows of exactly `width` bytes).
struct StoredRows {
  const std::uint8_t* pixels = nullptr;
  std::size_t stride = 0;
};

StoredRows stored_rows(std::span<const std::uint8_t> bytes, std::size_t data_offset, const Header& h,
                       std::vector<std::uint8_t>& rle) {
  if (h.compression == kRle8 || h.compression == kRle4) {
    decode_rle(bytes, data_offset, h, rle);
    return {rle.data(), h.width};
  }
  const std::size_t stride = ((static_cast<std::size_t>(h.width) * h.bits + 31) >> 3) & ~std::size_t{3};
  // The last row needs only its pixels, not its padding.
  const std::size_t need = stride * (h.height - 1) + (static_cast<std::size_t>(h.width) * h.bits + 7) / 8;
  if (bytes.size() - data_offset < need) bad("image file is truncated");
  return {bytes.data() + data_offset, stride};
}

// One row of palette indices of `index_bits` bits each (8: one per byte, as RLE output is), to
// RGB through the palette ("P"), to 0 / 255 ("1") or as the grey level itself ("L").
void unpack_palette_row(const std::uint8_t* s, std::uint8_t* o, int w, std::uint32_t index_bits, PixelMode mode,
                        const std::array<std::uint8_t, 256 * 3>& palette) {
  for (int x = 0; x < w; ++x) {
    unsigned index;
    if (index_bits == 8) {
      index = s[x];
    } else if (index_bits == 4) {
      index = (s[x / 2] >> (x % 2 == 0 ? 4 : 0)) & 0x0F;
    } else {
      index = (s[x / 8] >> (7 - x % 8)) & 1;
    }
    if (mode == PixelMode::P) {
      std::memcpy(o + 3 * x, &palette[3 * (index & 0xFF)], 3);
    } else if (mode == PixelMode::bilevel) {
      o[x] = index ? 255 : 0;
    } else {
      o[x] = static_cast<std::uint8_t>(index);
    }
  }
}

// ImagingUnpackBGR15 / BGR16: 5-5-5 or 5-6-5 bit channels, each scaled as v * 255 / 31 (or 63).
void unpack_bgr15_16_row(const std::uint8_t* s, std::uint8_t* o, int w, bool six) {
  for (int x = 0; x < w; ++x) {
    const std::uint32_t p = u16(s + 2 * x);
    o[3 * x] = static_cast<std::uint8_t>(((p >> (six ? 11 : 10)) & 31) * 255 / 31);
    o[3 * x + 1] = static_cast<std::uint8_t>(six ? ((p >> 5) & 63) * 255 / 63 : ((p >> 5) & 31) * 255 / 31);
    o[3 * x + 2] = static_cast<std::uint8_t>((p & 31) * 255 / 31);
  }
}

void unpack_bgr24_row(const std::uint8_t* s, std::uint8_t* o, int w) {
  for (int x = 0; x < w; ++x) {
    o[3 * x] = s[3 * x + 2];
    o[3 * x + 1] = s[3 * x + 1];
    o[3 * x + 2] = s[3 * x];
  }
}

// 32-bit pixels to RGB or RGBA, each channel read from its byte of the four.
void unpack_masked32_row(const std::uint8_t* s, std::uint8_t* o, int w, const PixelFormat& f) {
  const int n = f.mode == PixelMode::RGBA ? 4 : 3;
  for (int x = 0; x < w; ++x) {
    const std::uint8_t* p = s + 4 * x;
    for (int c = 0; c < n; ++c) o[n * x + c] = p[f.byte_index[c]];
  }
}

}  // namespace

void decode_bmp(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts) {
  if (bytes.size() < 18) bad("truncated file header");
  const std::uint32_t offset_field = u32(bytes.data() + 10);
  const std::uint32_t header_size = u32(bytes.data() + 14);
  if (header_size < 12 || header_size > bytes.size() - 14) bad("truncated info header");
  std::size_t pos = 14 + header_size;
  Header h = read_info_header(bytes, header_size, pos);
  check_size("BMP", h.width, h.height, opts);
  if (h.colors == 0) h.colors = h.bits < 32 ? 1u << h.bits : 0;
  std::size_t data_offset = offset_field;
  if (offset_field == 14 + header_size && h.bits <= 8) data_offset += 4 * static_cast<std::size_t>(h.colors);

  PixelFormat format = pixel_format(h);
  out.palette.fill(0);
  if (format.layout == Layout::palette) format.mode = read_palette(bytes, pos, h, out.palette);

  const int w = static_cast<int>(h.width), height = static_cast<int>(h.height);
  shape_image(out, format.mode, w, height);
  if (data_offset > bytes.size()) bad("pixel data offset beyond the end of the file");

  thread_local std::vector<std::uint8_t> rle;
  const StoredRows rows = stored_rows(bytes, data_offset, h, rle);
  const std::uint32_t index_bits = h.compression != kRaw ? 8 : h.bits;  // RLE output: one index per byte
  for (int row = 0; row < height; ++row) {
    const int y = h.top_down ? row : height - 1 - row;
    const std::uint8_t* s = rows.pixels + rows.stride * row;
    std::uint8_t* o = out.pixels.ptr<std::uint8_t>(y);
    switch (format.layout) {
      case Layout::palette: unpack_palette_row(s, o, w, index_bits, format.mode, out.palette); break;
      case Layout::bgr15: unpack_bgr15_16_row(s, o, w, false); break;
      case Layout::bgr16: unpack_bgr15_16_row(s, o, w, true); break;
      case Layout::bgr24: unpack_bgr24_row(s, o, w); break;
      case Layout::masked32: unpack_masked32_row(s, o, w, format); break;
    }
  }
  trim_scratch(rle);
}

}  // namespace rsclip::data::codec
