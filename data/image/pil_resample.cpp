// Pillow's resampling (see pil_resample.h for the exact rules reproduced here).
// Floating-point expressions are written in Pillow's order of operations; the build must
// not contract them into FMAs (it does not: no -march/-mfma), or kernels could differ in
// the last bit.
#include "data/image/pil_resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <c10/util/Exception.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/base/error.h"

namespace rsclip::data {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Resample.c PRECISION_BITS

double bicubic(double x) {  // a = -0.5
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double bilinear(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

inline std::uint8_t clip8(std::int32_t v) {
  v >>= kPrecisionBits;  // arithmetic shift, as Pillow's clip8 table lookup
  return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

inline int clip8_int(int v) { return v <= 0 ? 0 : v < 256 ? v : 255; }

// Resample.c ROUND_UP, then the 16bpc store: low and high byte each clipped to 0..255.
inline std::uint16_t store16(double ss) {
  const int v = static_cast<int>(ss >= 0.0 ? ss + 0.5F : ss - 0.5F);
  return static_cast<std::uint16_t>(clip8_int(v % 256) | (clip8_int(v >> 8) << 8));
}

// ---- 8-bit row kernels: Pillow's loops, and an AVX2 version of each for x86-64 CPUs that
// have it (exact int32 arithmetic and the same clamping, so the results are identical).

template <int C>
void horizontal_row_scalar(const std::uint8_t* s, const AxisKernel& k, int x0, int width, std::uint8_t* d) {
  for (int xx = 0; xx < width; ++xx) {
    const int x = x0 + xx - k.begin;
    const std::int32_t* w = &k.fixed[static_cast<std::size_t>(x) * k.ksize];
    const std::uint8_t* p = s + static_cast<std::size_t>(k.first[x]) * C;
    std::int32_t acc[C];
    for (int c = 0; c < C; ++c) acc[c] = 1 << (kPrecisionBits - 1);
    for (int i = 0, n = k.count[x]; i < n; ++i) {
      for (int c = 0; c < C; ++c) acc[c] += p[i * C + c] * w[i];
    }
    for (int c = 0; c < C; ++c) d[xx * C + c] = clip8(acc[c]);
  }
}

void vertical_row_scalar(const std::uint8_t* const* rows, const std::int32_t* w, int taps, int n, std::uint8_t* out) {
  for (int j = 0; j < n; ++j) {
    std::int32_t acc = 1 << (kPrecisionBits - 1);
    for (int i = 0; i < taps; ++i) acc += rows[i][j] * w[i];
    out[j] = clip8(acc);
  }
}

#if defined(__x86_64__)
bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

// 3 or 4 channels. The source row is first widened to 4 int32 lanes per pixel (`wide`, 4 x
// src_width), so that each tap is one multiply-add of a whole pixel; for 3 channels lane 3
// holds the next pixel's first channel and is never stored.
__attribute__((target("avx2"))) void horizontal_row_avx2(const std::uint8_t* s, int src_width, int channels,
                                                         const AxisKernel& k, int x0, int width, std::uint8_t* d,
                                                         std::int32_t* wide) {
  int x = 0;
  for (; x + 1 < src_width; ++x) {  // a 4-byte load at pixel x stays inside the row
    std::int32_t four;
    std::memcpy(&four, s + channels * x, 4);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(wide + 4 * x), _mm_cvtepu8_epi32(_mm_cvtsi32_si128(four)));
  }
  for (; x < src_width; ++x) {
    for (int c = 0; c < 4; ++c) wide[4 * x + c] = c < channels ? s[channels * x + c] : 0;
  }
  const __m128i half = _mm_set1_epi32(1 << (kPrecisionBits - 1));
  for (int xx = 0; xx < width; ++xx) {
    const int xo = x0 + xx - k.begin;
    const std::int32_t* w = &k.fixed[static_cast<std::size_t>(xo) * k.ksize];
    const std::int32_t* p = wide + 4 * k.first[xo];
    __m128i acc = half;
    for (int i = 0, n = k.count[xo]; i < n; ++i) {
      const __m128i px = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 4 * i));
      acc = _mm_add_epi32(acc, _mm_mullo_epi32(px, _mm_set1_epi32(w[i])));
    }
    acc = _mm_srai_epi32(acc, kPrecisionBits);
    const __m128i bytes = _mm_packus_epi16(_mm_packus_epi32(acc, acc), _mm_setzero_si128());  // clamp to 0..255
    const std::uint32_t packed = static_cast<std::uint32_t>(_mm_cvtsi128_si32(bytes));
    std::memcpy(d + xx * channels, &packed, static_cast<std::size_t>(channels));
  }
}

__attribute__((target("avx2"))) void vertical_row_avx2(const std::uint8_t* const* rows, const std::int32_t* w, int taps,
                                                       int n, std::uint8_t* out) {
  const __m256i half = _mm256_set1_epi32(1 << (kPrecisionBits - 1));
  int j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256i acc = half;
    for (int i = 0; i < taps; ++i) {
      const __m256i px = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(rows[i] + j)));
      acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(px, _mm256_set1_epi32(w[i])));
    }
    acc = _mm256_srai_epi32(acc, kPrecisionBits);
    // packus_epi32 works per 128-bit lane: reorder the 64-bit halves so values 0..7 are in order.
    const __m256i words = _mm256_permute4x64_epi64(_mm256_packus_epi32(acc, acc), 0xD8);
    const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_castsi256_si128(words));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + j), bytes);
  }
  for (; j < n; ++j) {
    std::int32_t acc = 1 << (kPrecisionBits - 1);
    for (int i = 0; i < taps; ++i) acc += rows[i][j] * w[i];
    out[j] = clip8(acc);
  }
}
#endif

void horizontal_16bpc(const cv::Mat& src, int row0, int rows, const AxisKernel& k, int x0, int width, cv::Mat& dst) {
  for (int r = 0; r < rows; ++r) {
    const std::uint16_t* s = src.ptr<std::uint16_t>(row0 + r);
    std::uint16_t* d = dst.ptr<std::uint16_t>(r);
    for (int xx = 0; xx < width; ++xx) {
      const int x = x0 + xx - k.begin;
      const double* w = &k.weights[static_cast<std::size_t>(x) * k.ksize];
      double ss = 0.0;
      for (int i = 0, n = k.count[x]; i < n; ++i) ss += s[k.first[x] + i] * w[i];
      d[xx] = store16(ss);
    }
  }
}

void vertical_16bpc(const cv::Mat& src, int row_offset, const AxisKernel& k, int y0, int height, cv::Mat& dst) {
  for (int yy = 0; yy < height; ++yy) {
    const int y = y0 + yy - k.begin;
    const double* w = &k.weights[static_cast<std::size_t>(y) * k.ksize];
    std::uint16_t* d = dst.ptr<std::uint16_t>(yy);
    for (int x = 0; x < src.cols; ++x) {
      double ss = 0.0;
      for (int i = 0, n = k.count[y]; i < n; ++i) ss += src.ptr<std::uint16_t>(k.first[y] - row_offset + i)[x] * w[i];
      d[x] = store16(ss);
    }
  }
}

}  // namespace

ResampleFilter parse_resample_filter(const std::string& name) {
  if (name == "bicubic") return ResampleFilter::bicubic;
  if (name == "bilinear") return ResampleFilter::bilinear;
  if (name == "nearest") return ResampleFilter::nearest;
  throw Error("unknown interpolation '" + name + "'", "interpolation", "use bicubic, bilinear or nearest");
}

void build_axis_kernel(int in_size, int out_size, ResampleFilter filter, AxisKernel& k, int begin, int length) {
  if (length < 0) length = out_size - begin;
  TORCH_CHECK(in_size > 0 && out_size > 0 && filter != ResampleFilter::nearest && begin >= 0 && length > 0 &&
                  begin + length <= out_size,
              "bad resample kernel request");
  const double support_base = filter == ResampleFilter::bicubic ? 2.0 : 1.0;
  double (*fn)(double) = filter == ResampleFilter::bicubic ? bicubic : bilinear;
  // precompute_coeffs: in1 - in0 is computed in float (box coordinates are floats).
  const double scale = static_cast<double>(static_cast<float>(in_size) - 0.0F) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = support_base * filterscale;
  k.in_size = in_size;
  k.out_size = out_size;
  k.begin = begin;
  k.filter = filter;
  k.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  k.first.assign(static_cast<std::size_t>(length), 0);
  k.count.assign(static_cast<std::size_t>(length), 0);
  k.weights.assign(static_cast<std::size_t>(length) * k.ksize, 0.0);
  k.fixed.assign(k.weights.size(), 0);
  for (int i = 0; i < length; ++i) {
    const int xx = begin + i;
    const double center = 0.0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double* w = &k.weights[static_cast<std::size_t>(i) * k.ksize];
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double v = fn((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) w[x] /= ww;
    }
    k.first[i] = xmin;
    k.count[i] = xmax;
  }
  for (std::size_t i = 0; i < k.weights.size(); ++i) {  // normalize_coeffs_8bpc
    const double v = k.weights[i];
    k.fixed[i] = v < 0 ? static_cast<std::int32_t>(-0.5 + v * (1 << kPrecisionBits))
                       : static_cast<std::int32_t>(0.5 + v * (1 << kPrecisionBits));
  }
}

const AxisKernel& PilResizer::kernel(int in_size, int out_size, ResampleFilter filter, int begin, int length) {
  for (std::size_t i = 0; i < cache_.size(); ++i) {
    const AxisKernel& k = *cache_[i];
    if (k.in_size == in_size && k.out_size == out_size && k.filter == filter && k.begin == begin &&
        static_cast<int>(k.first.size()) == length) {
      std::rotate(cache_.begin(), cache_.begin() + static_cast<std::ptrdiff_t>(i),
                  cache_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return *cache_.front();
    }
  }
  if (cache_.size() < kCacheSize) {
    cache_.insert(cache_.begin(), std::make_unique<AxisKernel>());
  } else {  // reuse the least recently used entry's buffers
    std::rotate(cache_.begin(), cache_.end() - 1, cache_.end());
  }
  build_axis_kernel(in_size, out_size, filter, *cache_.front(), begin, length);
  return *cache_.front();
}

void PilResizer::resize_nearest(const cv::Mat& src, cv::Size out_size, cv::Rect window, cv::Mat& dst) {
  // ImagingScaleAffine with a = (in/out, 0, 0, 0, in/out, 0): positions accumulate in double.
  const double ax = static_cast<double>(static_cast<float>(src.cols)) / out_size.width;
  const double ay = static_cast<double>(static_cast<float>(src.rows)) / out_size.height;
  index_.resize(static_cast<std::size_t>(window.width));
  double xo = 0.0 + ax * 0.5;
  for (int x = 0; x < window.x + window.width; ++x, xo += ax) {
    if (x >= window.x) index_[x - window.x] = std::min(static_cast<int>(xo), src.cols - 1);
  }
  const std::size_t esz = src.elemSize();
  double yo = 0.0 + ay * 0.5;
  for (int y = 0; y < window.y; ++y) yo += ay;
  for (int yy = 0; yy < window.height; ++yy, yo += ay) {
    const std::uint8_t* s = src.ptr<std::uint8_t>(std::min(static_cast<int>(yo), src.rows - 1));
    std::uint8_t* d = dst.ptr<std::uint8_t>(yy);
    for (int xx = 0; xx < window.width; ++xx) std::memcpy(d + xx * esz, s + index_[xx] * esz, esz);
  }
}

void PilResizer::horizontal_8bpc(const cv::Mat& src, int row0, int rows, const AxisKernel& k, int x0, int width,
                                 cv::Mat& dst) {
  const int channels = src.channels();
#if defined(__x86_64__)
  if (simd_ && channels >= 3 && cpu_has_avx2()) {
    wide_.resize(static_cast<std::size_t>(src.cols) * 4);
    for (int r = 0; r < rows; ++r) {
      horizontal_row_avx2(src.ptr<std::uint8_t>(row0 + r), src.cols, channels, k, x0, width, dst.ptr<std::uint8_t>(r),
                          wide_.data());
    }
    return;
  }
#endif
  for (int r = 0; r < rows; ++r) {
    const std::uint8_t* s = src.ptr<std::uint8_t>(row0 + r);
    std::uint8_t* d = dst.ptr<std::uint8_t>(r);
    switch (channels) {
      case 1: horizontal_row_scalar<1>(s, k, x0, width, d); break;
      case 2: horizontal_row_scalar<2>(s, k, x0, width, d); break;
      case 3: horizontal_row_scalar<3>(s, k, x0, width, d); break;
      default: horizontal_row_scalar<4>(s, k, x0, width, d); break;
    }
  }
}

void PilResizer::vertical_8bpc(const cv::Mat& src, int row_offset, const AxisKernel& k, int y0, int height,
                               cv::Mat& dst) {
  const int n = src.cols * src.channels();
  for (int yy = 0; yy < height; ++yy) {
    const int y = y0 + yy - k.begin;
    const int taps = k.count[y];
    row_ptrs_.resize(static_cast<std::size_t>(taps));
    for (int i = 0; i < taps; ++i) row_ptrs_[i] = src.ptr<std::uint8_t>(k.first[y] - row_offset + i);
    const std::int32_t* w = &k.fixed[static_cast<std::size_t>(y) * k.ksize];
#if defined(__x86_64__)
    if (simd_ && cpu_has_avx2()) {
      vertical_row_avx2(row_ptrs_.data(), w, taps, n, dst.ptr<std::uint8_t>(yy));
      continue;
    }
#endif
    vertical_row_scalar(row_ptrs_.data(), w, taps, n, dst.ptr<std::uint8_t>(yy));
  }
}

void PilResizer::resize(const cv::Mat& src, cv::Size out_size, ResampleFilter filter, cv::Rect window, cv::Mat& dst) {
  TORCH_CHECK(!src.empty() && src.dims == 2, "PilResizer: empty input");
  TORCH_CHECK((src.depth() == CV_8U && src.channels() <= 4) || src.type() == CV_16UC1, "PilResizer: unsupported type");
  TORCH_CHECK(window.x >= 0 && window.y >= 0 && window.width > 0 && window.height > 0 &&
                  window.x + window.width <= out_size.width && window.y + window.height <= out_size.height,
              "PilResizer: window outside the output");
  dst.create(window.height, window.width, src.type());
  const bool need_h = out_size.width != src.cols;
  const bool need_v = out_size.height != src.rows;
  if (!need_h && !need_v) {  // Image.resize returns a copy
    src(window).copyTo(dst);
    return;
  }
  if (filter == ResampleFilter::nearest) {
    resize_nearest(src, out_size, window, dst);
    return;
  }
  const bool wide = src.depth() == CV_16U;
  // Kernels only for the output window (each output index's weights are independent).
  const AxisKernel* kv = need_v ? &kernel(src.rows, out_size.height, filter, window.y, window.height) : nullptr;
  // Input rows the vertical pass reads for the window (Pillow reads ybox_first..ybox_last for
  // the whole image; only these rows matter for the window).
  int row0 = window.y, rows = window.height;
  if (need_v) {
    const int last = window.height - 1;
    row0 = kv->first[0];
    rows = kv->first[last] + kv->count[last] - row0;
  }
  const cv::Mat* vin = &src;
  int row_offset = 0;
  if (need_h) {
    const AxisKernel& kh = kernel(src.cols, out_size.width, filter, window.x, window.width);
    tmp_.create(rows, window.width, src.type());
    if (wide) {
      horizontal_16bpc(src, row0, rows, kh, window.x, window.width, tmp_);
    } else {
      horizontal_8bpc(src, row0, rows, kh, window.x, window.width, tmp_);
    }
    vin = &tmp_;
    row_offset = row0;
  }
  if (!need_v) {
    if (need_h) {
      tmp_.copyTo(dst);
    }
    return;
  }
  // Without a horizontal pass the vertical pass reads the window's columns of the source.
  const cv::Mat columns = need_h ? *vin : src(cv::Rect(window.x, 0, window.width, src.rows));
  if (wide) {
    vertical_16bpc(columns, row_offset, *kv, window.y, window.height, dst);
  } else {
    vertical_8bpc(columns, row_offset, *kv, window.y, window.height, dst);
  }
}

}  // namespace rsclip::data
