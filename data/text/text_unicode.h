// Unicode plumbing for the text cleaners: UTF-8 <-> code points, Python's notion of
// whitespace (str.isspace / str.split / str.strip) and the ICU-backed operations Python's
// str offers (lower(), upper(), unicodedata.normalize). The cleaners work on code points
// (std::u32string) because the behaviour they reproduce is defined on Python str, whose
// indices, lengths and regexes count code points.
//
// Unicode versions: Python 3.11's str and unicodedata use Unicode 14.0; the ICU linked
// here (Debian ICU 72) uses 15.0. The two differ only for characters assigned in 15.0.
#pragma once

#include <string>
#include <string_view>

namespace rsclip::data::text {

// Decodes UTF-8. Invalid sequences (including encoded surrogates and overlongs) become
// U+FFFD, one per maximal invalid subpart, as Python's bytes.decode("utf-8", "replace").
// Returns true when the input was valid UTF-8.
bool utf8_to_u32(std::string_view in, std::u32string& out);

// Encodes code points (none of them surrogates) to UTF-8, appending to `out`.
void append_utf8(std::u32string_view in, std::string& out);
void append_utf8(char32_t c, std::string& out);

// str.isspace(): the characters with bidirectional class WS, B or S or category Zs, which
// is what str.split() and str.strip() with no argument remove.
constexpr bool is_python_space(char32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

// str.strip() in place.
void strip(std::u32string& s);

// " ".join(s.split()): whitespace runs become one space, leading/trailing ones go.
void collapse_whitespace(std::u32string& s);

// unicodedata.normalize("NFC", s) in place. `scratch` is a reusable buffer.
void normalize_nfc(std::u32string& s, std::u16string& scratch);

// str.lower() / str.upper(): full Unicode case mapping (SpecialCasing, e.g. "İ" -> "i̇",
// "ß".upper() -> "SS") with the Final_Sigma rule, no language-specific mappings.
void to_lower(std::u32string& s, std::u16string& scratch);
void to_upper(std::u32string& s, std::u16string& scratch);

// Unicode general category Nd (what Python's `\d` matches in a str pattern).
bool is_decimal_digit(char32_t c);

}  // namespace rsclip::data::text
