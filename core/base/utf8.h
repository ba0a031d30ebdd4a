// UTF-8 decoding with Python's rules (bytes.decode("utf-8")): overlong forms, encoded
// surrogates and values above U+10FFFF are invalid, and an invalid sequence is replaced as a
// "maximal subpart" (Unicode 15, 3.9 U+FFFD substitution), one U+FFFD each. The one decoder
// of the project: the text cleaners decode with it, and every validity check (captions,
// CSV files, pickle strings) uses is_valid_utf8.
#pragma once

#include <cstddef>

#include <string_view>

namespace rsclip {

struct Utf8Step {
  char32_t code_point;  // U+FFFD when !valid
  std::size_t length;   // bytes consumed (>= 1)
  bool valid;
};

// Decodes the sequence starting at s[i] (i < s.size()).
inline Utf8Step decode_utf8_at(std::string_view s, std::size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char b = p[i];
  if (b < 0x80) return {b, 1, true};
  // Length and the allowed range of the second byte, which rules out overlongs, surrogates
  // and values above U+10FFFF.
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF)
    len = 2;
  else if (b == 0xE0)
    len = 3, lo = 0xA0;
  else if (b == 0xED)
    len = 3, hi = 0x9F;
  else if (b >= 0xE1 && b <= 0xEF)
    len = 3;
  else if (b == 0xF0)
    len = 4, lo = 0x90;
  else if (b >= 0xF1 && b <= 0xF3)
    len = 4;
  else if (b == 0xF4)
    len = 4, hi = 0x8F;
  if (len == 0) return {U'\uFFFD', 1, false};
  char32_t c = b & (0xFF >> (len + 1));
  std::size_t k = 1;
  for (; k < len && i + k < s.size(); ++k) {
    const unsigned char t = p[i + k];
    if (k == 1 ? (t < lo || t > hi) : (t & 0xC0) != 0x80) break;
    c = (c << 6) | (t & 0x3F);
  }
  if (k < len) return {U'\uFFFD', k, false};
  return {c, len, true};
}

// True when `text` is well-formed UTF-8.
inline bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const Utf8Step step = decode_utf8_at(text, i);
    if (!step.valid) return false;
    i += step.length;
  }
  return true;
}

}  // namespace rsclip
