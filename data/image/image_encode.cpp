#include "data/image/image_encode.h"

// clang-format off
#include <cstdio>
#include <jpeglib.h>
#include <png.h>
// clang-format on

#include <csetjmp>
#include <cstring>

#include <c10/util/Exception.h>

#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace rsclip::data {
namespace {

struct JpegError {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void on_jpeg_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Owns the compressor and its output buffer; declared before setjmp so that a longjmp back
// skips no destructor.
struct Compressor {
  jpeg_compress_struct cinfo{};
  unsigned char* out = nullptr;
  unsigned long size = 0;
  ~Compressor() {
    jpeg_destroy_compress(&cinfo);
    std::free(out);
  }
};

struct PngWriter {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::vector<std::uint8_t> bytes;
  char message[256] = {};
  ~PngWriter() { png_destroy_write_struct(&png, &info); }
};

void append(png_structp png, png_bytep data, png_size_t length) {
  auto* w = static_cast<PngWriter*>(png_get_io_ptr(png));
  w->bytes.insert(w->bytes.end(), data, data + length);
}

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* w = static_cast<PngWriter*>(png_get_error_ptr(png));
  std::snprintf(w->message, sizeof(w->message), "%s", message);
  png_longjmp(png, 1);
}

}  // namespace

std::vector<std::uint8_t> encode_jpeg(const cv::Mat& rgb, int quality) {
  TORCH_CHECK(rgb.type() == CV_8UC3 && rgb.isContinuous(), "encode_jpeg needs a continuous 8-bit RGB image");
  Compressor c;
  JpegError err;
  c.cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_jpeg_error;
  if (setjmp(err.jump)) throw Error(std::string("JPEG encoding failed: ") + err.message, "encode_jpeg");
  jpeg_create_compress(&c.cinfo);
  jpeg_mem_dest(&c.cinfo, &c.out, &c.size);
  c.cinfo.image_width = static_cast<JDIMENSION>(rgb.cols);
  c.cinfo.image_height = static_cast<JDIMENSION>(rgb.rows);
  c.cinfo.input_components = 3;
  c.cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c.cinfo);
  jpeg_set_quality(&c.cinfo, quality, TRUE);
  jpeg_start_compress(&c.cinfo, TRUE);
  while (c.cinfo.next_scanline < c.cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(rgb.ptr<unsigned char>(static_cast<int>(c.cinfo.next_scanline)));
    jpeg_write_scanlines(&c.cinfo, &row, 1);
  }
  jpeg_finish_compress(&c.cinfo);
  return {c.out, c.out + c.size};
}

void write_png(const std::filesystem::path& path, const cv::Mat& bgr) {
  TORCH_CHECK(bgr.type() == CV_8UC3, "write_png needs an 8-bit BGR image");
  PngWriter w;
  w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w, on_png_error, nullptr);
  if (!w.png) throw Error("libpng: out of memory", path.string());
  w.info = png_create_info_struct(w.png);
  if (!w.info) throw Error("libpng: out of memory", path.string());
  std::vector<std::uint8_t> row(static_cast<std::size_t>(bgr.cols) * 3);
  if (setjmp(png_jmpbuf(w.png))) throw Error(std::string("PNG encoding failed: ") + w.message, path.string());
  png_set_write_fn(w.png, &w, append, nullptr);
  png_set_IHDR(w.png, w.info, static_cast<png_uint_32>(bgr.cols), static_cast<png_uint_32>(bgr.rows), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(w.png, w.info);
  for (int y = 0; y < bgr.rows; ++y) {
    const auto* src = bgr.ptr<unsigned char>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      row[3 * x] = src[3 * x + 2];
      row[3 * x + 1] = src[3 * x + 1];
      row[3 * x + 2] = src[3 * x];
    }
    png_write_row(w.png, row.data());
  }
  png_write_end(w.png, nullptr);
  write_file_atomic(path, std::string(w.bytes.begin(), w.bytes.end()));
}

}  // namespace rsclip::data
