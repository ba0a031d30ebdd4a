#include "data/text/text_unicode.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include <c10/util/Exception.h>

#include "core/base/utf8.h"

namespace rsclip::data::text {
namespace {

void to_u16(std::u32string_view in, std::u16string& out) {
  out.clear();
  for (char32_t c : in) {
    if (c < 0x10000) {
      out.push_back(static_cast<char16_t>(c));
    } else {
      out.push_back(static_cast<char16_t>(U16_LEAD(c)));
      out.push_back(static_cast<char16_t>(U16_TRAIL(c)));
    }
  }
}

void from_u16(const char16_t* p, int32_t n, std::u32string& out) {
  out.clear();
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U16_NEXT(p, i, n, c);
    out.push_back(static_cast<char32_t>(c));
  }
}

// Runs an ICU UTF-16 -> UTF-16 transform with the usual preflight-and-retry on overflow.
template <class F>
void icu_transform(std::u32string& s, std::u16string& scratch, F&& transform, const char* what) {
  to_u16(s, scratch);
  std::u16string out(scratch.size() + 16, u'\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    UErrorCode err = U_ZERO_ERROR;
    const int32_t n = transform(reinterpret_cast<const UChar*>(scratch.data()), static_cast<int32_t>(scratch.size()),
                                reinterpret_cast<UChar*>(out.data()), static_cast<int32_t>(out.size()), &err);
    if (err == U_BUFFER_OVERFLOW_ERROR) {
      out.assign(static_cast<std::size_t>(n), u'\0');
      continue;
    }
    TORCH_CHECK(U_SUCCESS(err), what, " failed: ", u_errorName(err));
    from_u16(out.data(), n, s);
    return;
  }
  TORCH_CHECK(false, what, " kept overflowing its buffer");
}

const UNormalizer2* nfc_normalizer() {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* n = unorm2_getNFCInstance(&err);
  TORCH_CHECK(U_SUCCESS(err), "ICU NFC normalizer unavailable: ", u_errorName(err));
  return n;
}

}  // namespace

bool utf8_to_u32(std::string_view in, std::u32string& out) {
  out.clear();
  out.reserve(in.size());
  bool valid = true;
  for (std::size_t i = 0; i < in.size();) {
    const Utf8Step step = decode_utf8_at(in, i);
    out.push_back(step.code_point);
    valid &= step.valid;
    i += step.length;
  }
  return valid;
}

void append_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

void append_utf8(std::u32string_view in, std::string& out) {
  for (char32_t c : in) append_utf8(c, out);
}

void strip(std::u32string& s) {
  std::size_t end = s.size();
  while (end > 0 && is_python_space(s[end - 1])) --end;
  std::size_t begin = 0;
  while (begin < end && is_python_space(s[begin])) ++begin;
  s.erase(end);
  s.erase(0, begin);
}

void collapse_whitespace(std::u32string& s) {
  std::size_t w = 0;
  bool pending_space = false;
  for (char32_t c : s) {
    if (is_python_space(c)) {
      pending_space = w > 0;
      continue;
    }
    if (pending_space) s[w++] = U' ';
    pending_space = false;
    s[w++] = c;
  }
  s.resize(w);
}

void normalize_nfc(std::u32string& s, std::u16string& scratch) {
  // Every character below U+0300 is NFC-inert (no decomposition, never composes with a
  // preceding character), so such text is already normalised.
  bool inert = true;
  for (char32_t c : s) {
    if (c >= 0x300) {
      inert = false;
      break;
    }
  }
  if (inert) return;
  static const UNormalizer2* nfc = nfc_normalizer();
  icu_transform(
      s, scratch,
      [](const UChar* src, int32_t n, UChar* dst, int32_t cap, UErrorCode* err) {
        return unorm2_normalize(nfc, src, n, dst, cap, err);
      },
      "NFC normalisation");
}

void to_lower(std::u32string& s, std::u16string& scratch) {
  bool ascii = true;
  for (char32_t& c : s) {
    if (c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    for (char32_t& c : s)
      if (c >= U'A' && c <= U'Z') c += 32;
    return;
  }
  icu_transform(
      s, scratch,
      [](const UChar* src, int32_t n, UChar* dst, int32_t cap, UErrorCode* err) {
        return u_strToLower(dst, cap, src, n, "", err);
      },
      "lower-casing");
}

void to_upper(std::u32string& s, std::u16string& scratch) {
  icu_transform(
      s, scratch,
      [](const UChar* src, int32_t n, UChar* dst, int32_t cap, UErrorCode* err) {
        return u_strToUpper(dst, cap, src, n, "", err);
      },
      "upper-casing");
}

bool is_decimal_digit(char32_t c) { return u_charType(static_cast<UChar32>(c)) == U_DECIMAL_DIGIT_NUMBER; }

}  // namespace rsclip::data::text
