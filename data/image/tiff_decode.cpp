// TIFF through libtiff (first directory, strips or tiles, any compression libtiff decodes), in
// the modes of Pillow's TiffImagePlugin.OPEN_INFO for unsigned samples:
//   grey (photometric 0/1): 1-bit "1", 2/4/8-bit "L" (2/4-bit scaled by 85/17), MINISWHITE
//     inverted; 16-bit "I;16" (not inverted, as PIL); 8-bit grey + unassociated alpha "LA";
//   RGB 8/16-bit, 3..6 samples: extra sample 0 (unspecified) dropped -> "RGB"; 1 (associated
//     alpha) un-premultiplied as PIL's "RGBa" unpacker -> "RGBA"; 2 (unassociated) or a
//     missing ExtraSamples tag with 4 samples -> "RGBA";
//   palette 1/2/4/8-bit "P" (ColorMap entries cut to their high byte);
//   separated (CMYK) 8/16-bit, 4..6 samples -> "CMYK";
//   YCbCr: JPEG-compressed contiguous files decoded to RGB by libjpeg (JPEGCOLORMODE_RGB),
//     others through TIFFRGBAImage, as Pillow's TiffDecode.c does.
// 16-bit colour samples keep their high byte. Signed 8-bit grey reads as "L" (PIL's "L").
// Anything else (float, signed 16/32-bit, CIELab, 12-bit) is ImageError(undecodable) where PIL
// would give a mode ("F", "I", "LAB") that has no exact 8-bit RGB counterpart here.
#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "data/image/image_codecs.h"

namespace rsclip::data::codec {
namespace {

struct MemoryFile {
  std::span<const std::uint8_t> bytes;
  toff_t pos = 0;
  char message[512] = {};
};

tmsize_t read_proc(thandle_t h, void* buf, tmsize_t size) {
  auto* f = static_cast<MemoryFile*>(h);
  if (size <= 0 || f->pos >= f->bytes.size()) return 0;
  const auto n = std::min<std::uint64_t>(static_cast<std::uint64_t>(size), f->bytes.size() - f->pos);
  std::memcpy(buf, f->bytes.data() + f->pos, n);
  f->pos += n;
  return static_cast<tmsize_t>(n);
}
tmsize_t write_proc(thandle_t, void*, tmsize_t) { return 0; }
toff_t seek_proc(thandle_t h, toff_t off, int whence) {
  auto* f = static_cast<MemoryFile*>(h);
  std::uint64_t base = whence == SEEK_CUR ? f->pos : whence == SEEK_END ? f->bytes.size() : 0;
  f->pos = base + off;  // libtiff checks reads against the size; positions past the end read nothing
  return f->pos;
}
int close_proc(thandle_t) { return 0; }
toff_t size_proc(thandle_t h) { return static_cast<MemoryFile*>(h)->bytes.size(); }
int map_proc(thandle_t h, void** base, toff_t* size) {
  auto* f = static_cast<MemoryFile*>(h);
  *base = const_cast<std::uint8_t*>(f->bytes.data());  // libtiff only reads a mapped file opened "r"
  *size = f->bytes.size();
  return 1;
}
void unmap_proc(thandle_t, void*, toff_t) {}

int on_error(TIFF*, void* user, const char* module, const char* format, va_list args) {
  auto* f = static_cast<MemoryFile*>(user);
  if (f->message[0] == 0) {  // keep the first error: later ones are usually consequences
    const int n = std::snprintf(f->message, sizeof(f->message), "%s: ", module ? module : "libtiff");
    if (n > 0 && static_cast<std::size_t>(n) < sizeof(f->message)) {
      std::vsnprintf(f->message + n, sizeof(f->message) - static_cast<std::size_t>(n), format, args);
    }
  }
  return 1;  // handled: nothing on stderr
}
int on_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

struct TiffCloser {
  void operator()(TIFF* t) const { TIFFClose(t); }
};
struct OptionsDeleter {
  void operator()(TIFFOpenOptions* o) const { TIFFOpenOptionsFree(o); }
};

// What the directory says, reduced to what decides the mode.
struct Layout {
  std::uint32_t width = 0, height = 0;
  std::uint16_t bits = 1, samples = 1, photometric = 0, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
  std::uint16_t compression = COMPRESSION_NONE;
  std::vector<std::uint16_t> extras;
};

[[noreturn]] void unsupported(const Layout& l, const char* why) {
  fail("TIFF", fmt::format("unsupported layout ({}: photometric {}, {} samples of {} bits, sample format {})", why,
                           l.photometric, l.samples, l.bits, l.format));
}

PixelMode choose_mode(const Layout& l) {
  if (l.format != SAMPLEFORMAT_UINT && !(l.format == SAMPLEFORMAT_INT && l.bits == 8 && l.samples == 1)) {
    unsupported(l, "only unsigned samples");
  }
  const bool extras_zero_after_first = std::all_of(l.extras.begin() + (l.extras.empty() ? 0 : 1), l.extras.end(),
                                                   [](std::uint16_t e) { return e == EXTRASAMPLE_UNSPECIFIED; });
  switch (l.photometric) {
    case PHOTOMETRIC_MINISWHITE:
    case PHOTOMETRIC_MINISBLACK:
      if (l.samples == 1) {
        if (l.bits == 1) return PixelMode::bilevel;
        if (l.bits == 2 || l.bits == 4 || l.bits == 8) return PixelMode::L;
        if (l.bits == 16) return PixelMode::I16;
      } else if (l.samples == 2 && l.bits == 8 && l.photometric == PHOTOMETRIC_MINISBLACK && l.extras.size() == 1 &&
                 l.extras[0] == EXTRASAMPLE_UNASSALPHA) {
        return PixelMode::LA;
      }
      break;
    case PHOTOMETRIC_RGB:
      if (l.bits != 8 && l.bits != 16) break;
      if (l.samples == 3) return PixelMode::RGB;
      if (l.samples == 4 && l.extras.empty()) return PixelMode::RGBA;
      if (l.samples >= 4 && l.samples <= (l.bits == 8 ? 6 : 4) && l.extras.size() == l.samples - 3u &&
          extras_zero_after_first) {
        return l.extras[0] == EXTRASAMPLE_UNSPECIFIED ? PixelMode::RGB : PixelMode::RGBA;
      }
      break;
    case PHOTOMETRIC_PALETTE:
      if (l.samples == 1 && (l.bits == 1 || l.bits == 2 || l.bits == 4 || l.bits == 8)) return PixelMode::P;
      if (l.samples == 2 && l.bits == 8 && l.extras.size() == 1 && l.extras[0] == EXTRASAMPLE_UNSPECIFIED) {
        return PixelMode::P;
      }
      break;
    case PHOTOMETRIC_SEPARATED:
      if (l.bits == 8 && l.samples >= 4 && l.samples <= 6 && l.extras.size() == l.samples - 4u &&
          std::all_of(l.extras.begin(), l.extras.end(), [](std::uint16_t e) { return e == 0; })) {
        return PixelMode::CMYK;
      }
      if (l.bits == 16 && l.samples == 4) return PixelMode::CMYK;
      break;
    case PHOTOMETRIC_YCBCR:
      if (l.bits == 8 && l.samples == 3) return PixelMode::RGB;
      if (l.bits == 8 && l.samples == 1) return PixelMode::L;
      break;
    default: break;
  }
  unsupported(l, "no PIL mode");
}

// One sample of row `row` (contiguous: interleaved; separate: one plane per sample).
struct RawImage {
  const std::uint8_t* data;
  std::size_t row_bytes;    // bytes of one row of one plane (or of all samples if contiguous)
  std::size_t plane_bytes;  // row_bytes * height
  bool separate;
  int samples, bits;
  // The 8-bit value of sample c at (x, y): 8-bit as is, 16-bit its high byte.
  std::uint8_t byte(int x, int y, int c) const {
    const std::uint8_t* row = data + (separate ? plane_bytes * c : 0) + row_bytes * y;
    const std::size_t i = separate ? x : static_cast<std::size_t>(x) * samples + c;
    if (bits == 8) return row[i];
    std::uint16_t v;
    std::memcpy(&v, row + 2 * i, 2);  // libtiff swapped to native order
    return static_cast<std::uint8_t>(v >> 8);
  }
  std::uint16_t word(int x, int y) const {
    std::uint16_t v;
    std::memcpy(&v, data + row_bytes * y + 2 * static_cast<std::size_t>(x), 2);
    return v;
  }
  // A 1/2/4-bit sample packed most-significant first (libtiff already undid FillOrder 2).
  unsigned packed(int x, int y) const {
    const std::uint8_t* row = data + row_bytes * y;
    const int per_byte = 8 / bits;
    const int shift = 8 - bits * (x % per_byte + 1);
    return (row[x / per_byte] >> shift) & ((1u << bits) - 1);
  }
};

void read_all_samples(TIFF* tif, const Layout& l, std::vector<std::uint8_t>& raw, std::size_t& row_bytes) {
  const int planes = l.planar == PLANARCONFIG_SEPARATE ? l.samples : 1;
  const std::uint64_t samples_per_row = static_cast<std::uint64_t>(l.width) * (planes == 1 ? l.samples : 1);
  row_bytes = static_cast<std::size_t>((samples_per_row * l.bits + 7) / 8);
  raw.resize(row_bytes * l.height * planes);
  if (TIFFIsTiled(tif)) {
    std::uint32_t tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    const tmsize_t tile_size = TIFFTileSize(tif);
    const std::uint64_t tile_row = (static_cast<std::uint64_t>(tw) * (planes == 1 ? l.samples : 1) * l.bits + 7) / 8;
    if (tw == 0 || th == 0 || tile_size <= 0 || tile_row * th > static_cast<std::uint64_t>(tile_size) ||
        (l.bits < 8 && tw % (8 / l.bits) != 0)) {
      fail("TIFF", "bad tile layout");
    }
    thread_local std::vector<std::uint8_t> tile;
    tile.resize(static_cast<std::size_t>(tile_size));
    for (int p = 0; p < planes; ++p) {
      for (std::uint32_t ty = 0; ty < l.height; ty += th) {
        for (std::uint32_t tx = 0; tx < l.width; tx += tw) {
          const std::uint32_t index = TIFFComputeTile(tif, tx, ty, 0, static_cast<std::uint16_t>(p));
          if (TIFFReadEncodedTile(tif, index, tile.data(), tile_size) < 0) fail("TIFF", "could not read a tile");
          const std::size_t x_byte = static_cast<std::size_t>(tx) * (planes == 1 ? l.samples : 1) * l.bits / 8;
          const std::size_t copy = std::min<std::size_t>(tile_row, row_bytes - x_byte);
          for (std::uint32_t r = 0; r < th && ty + r < l.height; ++r) {
            std::memcpy(raw.data() + row_bytes * (l.height * static_cast<std::size_t>(p) + ty + r) + x_byte,
                        tile.data() + tile_row * r, copy);
          }
        }
      }
    }
    trim_scratch(tile);
    return;
  }
  std::uint32_t rows_per_strip = l.height;
  TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
  rows_per_strip = std::clamp<std::uint32_t>(rows_per_strip, 1, l.height);
  if (static_cast<std::uint64_t>(TIFFScanlineSize64(tif)) != row_bytes) fail("TIFF", "unexpected scanline size");
  for (int p = 0; p < planes; ++p) {
    for (std::uint32_t y = 0; y < l.height; y += rows_per_strip) {
      const std::uint32_t strip = TIFFComputeStrip(tif, y, static_cast<std::uint16_t>(p));
      const std::uint32_t rows = std::min(rows_per_strip, l.height - y);
      std::uint8_t* dst = raw.data() + row_bytes * (l.height * static_cast<std::size_t>(p) + y);
      if (TIFFReadEncodedStrip(tif, strip, dst, static_cast<tmsize_t>(row_bytes * rows)) < 0) {
        fail("TIFF", "could not read a strip");
      }
    }
  }
}

void unpack(const RawImage& raw, const Layout& l, PixelMode mode, const std::uint8_t* palette, DecodedImage& out) {
  const int w = static_cast<int>(l.width);
  const bool invert = l.photometric == PHOTOMETRIC_MINISWHITE;
  const int scale = l.bits == 2 ? 85 : l.bits == 4 ? 17 : 1;
  const bool premultiplied = mode == PixelMode::RGBA && !l.extras.empty() && l.extras[0] == EXTRASAMPLE_ASSOCALPHA;
  for (int y = 0; y < static_cast<int>(l.height); ++y) {
    std::uint8_t* o = out.pixels.ptr<std::uint8_t>(y);
    for (int x = 0; x < w; ++x) {
      switch (mode) {
        case PixelMode::bilevel: o[x] = (raw.packed(x, y) != 0) != invert ? 255 : 0; break;
        case PixelMode::L: {
          const unsigned v = l.bits == 8 ? raw.byte(x, y, 0) : raw.packed(x, y) * scale;
          o[x] = static_cast<std::uint8_t>(invert ? 255 - v : v);
          break;
        }
        case PixelMode::I16: out.pixels.ptr<std::uint16_t>(y)[x] = raw.word(x, y); break;
        case PixelMode::LA:
          o[2 * x] = raw.byte(x, y, 0);
          o[2 * x + 1] = raw.byte(x, y, 1);
          break;
        case PixelMode::P: {
          const unsigned index = l.bits == 8 ? raw.byte(x, y, 0) : raw.packed(x, y);
          std::memcpy(o + 3 * x, palette + 3 * index, 3);
          break;
        }
        case PixelMode::RGB:
          for (int c = 0; c < 3; ++c) o[3 * x + c] = raw.byte(x, y, c);
          break;
        case PixelMode::RGBA:
        case PixelMode::CMYK: {
          for (int c = 0; c < 4; ++c) o[4 * x + c] = raw.byte(x, y, c);
          if (premultiplied) {  // Unpack.c unpackRGBa: a == 0 gives all zeros
            const int a = o[4 * x + 3];
            for (int c = 0; c < 3; ++c) {
              o[4 * x + c] = a == 0 ? 0 : static_cast<std::uint8_t>(std::min(255, o[4 * x + c] * 255 / a));
            }
          }
          break;
        }
      }
    }
  }
}

}  // namespace

void decode_tiff(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts) {
  MemoryFile file{bytes};
  std::unique_ptr<TIFFOpenOptions, OptionsDeleter> options(TIFFOpenOptionsAlloc());
  if (!options) fail("TIFF", "out of memory");
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), on_error, &file);
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), on_warning, &file);
  // No single libtiff allocation may exceed what the largest accepted image needs.
  TIFFOpenOptionsSetMaxSingleMemAlloc(options.get(), std::max<tmsize_t>(opts.max_pixels, 1 << 20) * 16);
  std::unique_ptr<TIFF, TiffCloser> tif(TIFFClientOpenExt("<memory>", "r", &file, read_proc, write_proc, seek_proc,
                                                          close_proc, size_proc, map_proc, unmap_proc, options.get()));
  const auto error = [&](const char* what) { fail("TIFF", file.message[0] ? file.message : what); };
  if (!tif) error("cannot read the header");

  Layout l;
  TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &l.width);
  TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &l.height);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_BITSPERSAMPLE, &l.bits);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLESPERPIXEL, &l.samples);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_PLANARCONFIG, &l.planar);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLEFORMAT, &l.format);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_COMPRESSION, &l.compression);
  if (!TIFFGetField(tif.get(), TIFFTAG_PHOTOMETRIC, &l.photometric))
    l.photometric = PHOTOMETRIC_MINISWHITE;  // PIL's default
  std::uint16_t extra_count = 0;
  std::uint16_t* extra_types = nullptr;
  if (TIFFGetField(tif.get(), TIFFTAG_EXTRASAMPLES, &extra_count, &extra_types) && extra_types) {
    l.extras.assign(extra_types, extra_types + extra_count);
  }
  check_size("TIFF", l.width, l.height, opts);
  const PixelMode mode = choose_mode(l);
  shape_image(out, mode, static_cast<int>(l.width), static_cast<int>(l.height));

  if (l.photometric == PHOTOMETRIC_YCBCR && l.samples == 3) {
    if (l.compression == COMPRESSION_JPEG && l.planar == PLANARCONFIG_CONTIG) {
      // Pillow's TiffDecode.c: libjpeg converts to RGB; the strips then read as plain RGB.
      TIFFSetField(tif.get(), TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
      l.photometric = PHOTOMETRIC_RGB;
    } else {
      thread_local std::vector<std::uint32_t> raster;
      raster.resize(static_cast<std::size_t>(l.width) * l.height);
      if (!TIFFReadRGBAImageOriented(tif.get(), l.width, l.height, raster.data(), ORIENTATION_TOPLEFT, 0)) {
        error("could not read the YCbCr image");
      }
      for (std::size_t i = 0; i < raster.size(); ++i) {
        std::uint8_t* o = out.pixels.ptr<std::uint8_t>() + 3 * i;
        o[0] = static_cast<std::uint8_t>(TIFFGetR(raster[i]));
        o[1] = static_cast<std::uint8_t>(TIFFGetG(raster[i]));
        o[2] = static_cast<std::uint8_t>(TIFFGetB(raster[i]));
      }
      trim_scratch(raster);
      return;
    }
  }

  std::uint8_t* palette = out.palette.data();
  out.palette.fill(0);
  if (mode == PixelMode::P) {
    std::uint16_t *r = nullptr, *g = nullptr, *b = nullptr;
    if (!TIFFGetField(tif.get(), TIFFTAG_COLORMAP, &r, &g, &b) || !r || !g || !b)
      fail("TIFF", "palette image without ColorMap");
    const int entries = 1 << l.bits;  // libtiff reads exactly 2**bits entries per channel
    for (int i = 0; i < entries; ++i) {
      palette[3 * i] = static_cast<std::uint8_t>(r[i] >> 8);
      palette[3 * i + 1] = static_cast<std::uint8_t>(g[i] >> 8);
      palette[3 * i + 2] = static_cast<std::uint8_t>(b[i] >> 8);
    }
  }

  thread_local std::vector<std::uint8_t> raw;
  std::size_t row_bytes = 0;
  try {
    read_all_samples(tif.get(), l, raw, row_bytes);
  } catch (const ImageError&) {
    if (file.message[0]) error("");
    throw;
  }
  const bool separate = l.planar == PLANARCONFIG_SEPARATE && l.samples > 1;
  const RawImage image{raw.data(), row_bytes, row_bytes * l.height, separate, l.samples, l.bits};
  unpack(image, l, mode, palette, out);
  trim_scratch(raw);
}

}  // namespace rsclip::data::codec
