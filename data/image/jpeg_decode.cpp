// JPEG through the libjpeg API of libjpeg-turbo, configured as Pillow's JpegDecode.c
// configures it, so that pixels equal PIL's:
//   - mode from the number of components in SOF (1 "L", 3 "RGB", 4 "CMYK"), 8-bit only;
//   - out_color_space GRAYSCALE / RGB / CMYK; libjpeg's own guess of the stored colour space
//     (JFIF, Adobe transform flag); default ISLOW IDCT, fancy upsampling and block smoothing;
//   - CMYK read as "CMYK;I" (Adobe's inverted polarity, always assumed);
//   - warnings ignored, except that running out of data before the last scanline is an error,
//     as PIL raises "image file is truncated" (LOAD_TRUNCATED_IMAGES is off by default).
// The libjpeg API (rather than TurboJPEG) gives the warning codes needed for that rule.
//
// Opt-in fast path (DecodeOptions::jpeg_min_side): DCT-domain downscaling by n/8, the smallest
// n that keeps both sides >= jpeg_min_side. Not PIL-equal; for training only.
#include <cstdio>  // before jpeglib.h, which needs FILE and size_t

#include <jerror.h>
#include <jpeglib.h>

#include <csetjmp>
#include <cstring>
#include <vector>

#include "data/image/image_codecs.h"

namespace rsclip::data::codec {
namespace {

constexpr int kMaxScans = 500;  // progressive-JPEG CPU bomb guard (TurboJPEG's TJPARAM_SCANLIMIT default)

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  bool saw_eof = false;
  char message[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void on_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) reinterpret_cast<ErrorManager*>(cinfo->err)->saw_eof = true;
}

void on_progress(j_common_ptr common) {
  auto* cinfo = reinterpret_cast<j_decompress_ptr>(common);
  if (cinfo->is_decompressor && cinfo->progressive_mode && cinfo->input_scan_number > kMaxScans) {
    auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof(err->message), "more than %d progressive scans", kMaxScans);
    std::longjmp(err->jump, 1);
  }
}

// Owns the decompressor; declared before setjmp so that a longjmp back skips no destructor.
struct Decompressor {
  jpeg_decompress_struct cinfo;
  Decompressor() { std::memset(&cinfo, 0, sizeof(cinfo)); }
  ~Decompressor() { jpeg_destroy_decompress(&cinfo); }  // safe on a never-created struct (mem == NULL)
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
};

// Smallest n/8 (n = 1..8) that keeps both scaled sides (ceil(side * n / 8)) >= min_side.
int scale_numerator(int width, int height, int min_side) {
  for (int n = 1; n < 8; ++n) {
    if ((width * static_cast<std::int64_t>(n) + 7) / 8 >= min_side &&
        (height * static_cast<std::int64_t>(n) + 7) / 8 >= min_side) {
      return n;
    }
  }
  return 8;
}

}  // namespace

void decode_jpeg(std::span<const std::uint8_t> bytes, DecodedImage& out, const DecodeOptions& opts) {
  Decompressor d;
  ErrorManager err;
  jpeg_progress_mgr progress{};
  progress.progress_monitor = on_progress;
  jpeg_decompress_struct& cinfo = d.cinfo;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  if (setjmp(err.jump)) fail("JPEG", err.message);

  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);

  PixelMode mode;
  switch (cinfo.num_components) {
    case 1:
      mode = PixelMode::L;
      cinfo.out_color_space = JCS_GRAYSCALE;
      break;
    case 3:
      mode = PixelMode::RGB;
      cinfo.out_color_space = JCS_RGB;
      break;
    case 4:
      mode = PixelMode::CMYK;
      cinfo.out_color_space = JCS_CMYK;
      break;
    default: fail("JPEG", "cannot handle " + std::to_string(cinfo.num_components) + "-layer images");
  }
  if (cinfo.data_precision != 8) fail("JPEG", "cannot handle " + std::to_string(cinfo.data_precision) + "-bit layers");
  check_size("JPEG", cinfo.image_width, cinfo.image_height, opts);
  if (opts.jpeg_min_side > 0) {
    const int n =
        scale_numerator(static_cast<int>(cinfo.image_width), static_cast<int>(cinfo.image_height), opts.jpeg_min_side);
    if (n < 8) {
      cinfo.scale_num = static_cast<unsigned>(n);
      cinfo.scale_denom = 8;
    }
  }

  jpeg_start_decompress(&cinfo);
  const int width = static_cast<int>(cinfo.output_width);
  const int height = static_cast<int>(cinfo.output_height);
  if (cinfo.output_components != CV_MAT_CN(pixel_type(mode))) fail("JPEG", "unexpected number of output components");
  if (err.saw_eof) fail("JPEG", "image file is truncated");
  shape_image(out, mode, width, height);
  thread_local std::vector<JSAMPROW> rows;  // the decoder fills as many rows per call as it can
  rows.resize(static_cast<std::size_t>(height));
  for (int y = 0; y < height; ++y) rows[static_cast<std::size_t>(y)] = out.pixels.ptr<std::uint8_t>(y);
  while (cinfo.output_scanline < cinfo.output_height) {
    const JDIMENSION done = cinfo.output_scanline;
    if (jpeg_read_scanlines(&cinfo, rows.data() + done, cinfo.output_height - done) == 0)
      fail("JPEG", "decoder stalled");
    if (err.saw_eof) fail("JPEG", "image file is truncated");
  }
  if (err.saw_eof) fail("JPEG", "image file is truncated");
  jpeg_finish_decompress(&cinfo);  // a missing EOI after the last scanline is fine, as in PIL

  if (mode == PixelMode::CMYK) {
    std::uint8_t* p = out.pixels.ptr<std::uint8_t>();
    const std::size_t n = out.pixels.total() * 4;
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(255 - p[i]);
  }
}

}  // namespace rsclip::data::codec
