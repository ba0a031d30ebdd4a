// ftfy 6.3.1 mojibake repair: badness.is_bad and ftfy.fix_encoding with the default
// config (restore_byte_a0, replace_lossy_sequences, decode_inconsistent_utf8 and
// fix_c1_controls all on), including ftfy's "utf-8-variants" (CESU-8 / Java NUL) decoder.
//
// The patterns below are ftfy's (badness.BADNESS_RE, chardata.UTF8_DETECTOR_RE,
// ALTERED_UTF8_RE, LOSSY_UTF8_RE, fixes.A_GRAVE_WORD_RE) in PCRE2 syntax. Python `re`
// and PCRE2 are both backtracking engines with the same leftmost/greedy semantics for
// these constructs; the differences that would matter are spelled out: Python's str `\s`
// is str.isspace() and its `\w` is [\p{L}\p{N}_], and literals outside ASCII are written
// as \x{...} so that look-alike Latin/Greek/Cyrillic letters cannot be confused.
#include <array>
#include <unordered_map>
#include <vector>

#include "data/text/ftfy.h"
#include "data/text/ftfy_internal.h"
#include "data/text/pcre2_regex.h"
#include "data/text/text_unicode.h"

namespace rsclip::data::text {
namespace {

// Python's `\s` in a str pattern, as class contents.
constexpr const char* kPySpace =
    "\\t\\n\\x{0B}\\f\\r\\x{1C}-\\x{1F} \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}";

std::string cls(std::initializer_list<std::string_view> parts) {
  std::string s = "[";
  for (auto p : parts) s += p;
  return s + "]";
}

std::u32string to_u32(const std::string& pattern) {
  std::u32string out;
  utf8_to_u32(pattern, out);
  return out;
}

// badness.BADNESS_RE, alternative by alternative.
std::u32string badness_pattern() {
  const auto& c = ftfy_detail::character_classes();
  const std::string any_accented_etc = cls({c.bad, c.lower_accented, c.upper_accented, c.box, c.start_punctuation,
                                            c.end_punctuation, c.currency, c.numeric, c.law});
  const std::string arabic_follow = cls(
      {c.common, c.currency, c.bad, c.numeric, c.start_punctuation, "\\x{178}\\x{160}\\x{AE}\\x{B0}\\x{B5}\\x{BB}"});
  const std::vector<std::string> alternatives = {
      cls({c.c1}), any_accented_etc + cls({c.bad}), "[a-zA-Z]" + cls({c.lower_common, c.upper_common}) + cls({c.bad}),
      cls({c.bad}) + cls({c.lower_accented, c.upper_accented, c.box, c.start_punctuation, c.end_punctuation, c.currency,
                          c.numeric, c.law}),
      cls({c.lower_accented, c.lower_common, c.box, c.end_punctuation, c.currency, c.numeric}) +
          cls({c.upper_accented}),
      cls({c.box, c.end_punctuation, c.currency, c.numeric}) + cls({c.lower_accented}),
      cls({c.lower_accented, c.box, c.end_punctuation}) + cls({c.currency}),
      cls({kPySpace}) + cls({c.upper_accented}) + cls({c.currency}),
      cls({c.upper_accented, c.box}) + cls({c.numeric, c.law}),
      cls({c.lower_accented, c.upper_accented, c.box, c.currency, c.end_punctuation}) + cls({c.start_punctuation}) +
          cls({c.numeric}),
      cls({c.lower_accented, c.upper_accented, c.currency, c.numeric, c.box, c.law}) + cls({c.end_punctuation}) +
          cls({c.start_punctuation}),
      cls({c.currency, c.numeric, c.box}) + cls({c.start_punctuation}),
      "[a-z]" + cls({c.upper_accented}) + cls({c.start_punctuation, c.currency}), cls({c.box}) + cls({c.kaomoji}),
      cls({c.lower_accented, c.upper_accented, c.currency, c.numeric, c.start_punctuation, c.end_punctuation, c.law}) +
          cls({c.box}),
      cls({c.box}) + cls({c.end_punctuation}),
      cls({c.lower_accented, c.upper_accented}) + cls({c.start_punctuation, c.end_punctuation}) + "[\\p{L}\\p{N}_]",
      // the ligature œ not followed by an unaccented Latin letter
      "[\\x{152}\\x{153}][^A-Za-z]",
      // degree signs after capital letters
      cls({c.upper_accented}) + "\\x{B0}",
      // common windows-1252 two-character mojibake: [ÂÃÎÐ][€œŠš¢£Ÿž NBSP SHY ®©°·» ... –—´]
      "[\\x{C2}\\x{C3}\\x{CE}\\x{D0}]" +
          cls({"\\x{20AC}\\x{153}\\x{160}\\x{161}\\x{A2}\\x{A3}\\x{178}\\x{17E}\\x{A0}\\x{AD}\\x{AE}\\x{A9}\\x{B0}"
               "\\x{B7}\\x{BB}",
               c.start_punctuation, c.end_punctuation, "\\x{2013}\\x{2014}\\x{B4}"}),
      "\\x{D7}[\\x{B2}\\x{B3}]",  // × [²³]
      // windows-1252 mojibake of Arabic: four characters
      "[\\x{D8}\\x{D9}]" + arabic_follow + "[\\x{D8}\\x{D9}]" + arabic_follow,
      "\\x{E0}[\\x{B2}\\x{B5}\\x{B9}\\x{BC}\\x{BD}\\x{BE}]",  // à[²µ¹¼½¾]
      // MacRoman: √[±∂†≠®™´≤≥¥µø], ≈[°¢], ‚Ä[ìîïòôúùû†°¢π], ‚[âó][àä°ê]
      "\\x{221A}[\\x{B1}\\x{2202}\\x{2020}\\x{2260}\\x{AE}\\x{2122}\\x{B4}\\x{2264}\\x{2265}\\x{A5}\\x{B5}\\x{F8}]",
      "\\x{2248}[\\x{B0}\\x{A2}]",
      "\\x{201A}\\x{C4}[\\x{EC}\\x{EE}\\x{EF}\\x{F2}\\x{F4}\\x{FA}\\x{F9}\\x{FB}\\x{2020}\\x{B0}\\x{A2}\\x{3C0}]",
      "\\x{201A}[\\x{E2}\\x{F3}][\\x{E0}\\x{E4}\\x{B0}\\x{EA}]",
      "\\x{432}\\x{402}",  // windows-1251: вЂ
      // windows-1251 over Latin-1 / Cyrillic: [ВГРС][...°µ][ВГРС]
      "[\\x{412}\\x{413}\\x{420}\\x{421}]" +
          cls({c.c1, c.bad, c.start_punctuation, c.end_punctuation, c.currency, "\\x{B0}\\x{B5}"}) +
          "[\\x{412}\\x{413}\\x{420}\\x{421}]",
      "\\x{413}\\x{45E}\\x{412}\\x{402}\\x{412}.[A-Za-z ]",  // ГўВЂВ.[A-Za-z ]
      "\\x{C3}[\\x{A0}\\x{A1}]",                             // Ã[NBSP ¡]
      "[a-z][" + std::string(kPySpace) + "]?[\\x{C3}\\x{C2}][ ]", "^[\\x{C3}\\x{C2}][ ]",
      cls({"a-z.,?!", c.end_punctuation}) + "\\x{C2}" + cls({" ", c.start_punctuation, c.end_punctuation}),
      "\\x{3B2}\\x{20AC}[\\x{2122}\\x{A0}\\x{386}\\x{AD}\\x{AE}\\x{B0}]",  // windows-1253: β€[™ Ά ®°]
      "[\\x{392}\\x{393}\\x{39E}\\x{39F}]" +
          cls({c.c1, c.bad, c.start_punctuation, c.end_punctuation, c.currency, "\\x{B0}"}) +
          "[\\x{392}\\x{393}\\x{39E}\\x{39F}]",
      "\\x{101}\\x{20AC}",  // windows-1257: ā€
  };
  std::string pattern;
  for (const auto& a : alternatives) {
    if (!pattern.empty()) pattern += '|';
    pattern += a;
  }
  return to_u32(pattern);
}

// chardata.UTF8_DETECTOR_RE.
std::u32string utf8_detector_pattern() {
  const auto& c = ftfy_detail::character_classes();
  const std::string cont = cls({c.utf8_continuation});
  return to_u32("(?<!" + cls({c.utf8_continuation_strict}) + ")(?:" + cls({c.utf8_first_of_2}) + cont + "|" +
                cls({c.utf8_first_of_3}) + cont + "{2}|" + cls({c.utf8_first_of_4}) + cont + "{3})+");
}

struct Codec {
  std::string_view name;
  bool sloppy = false;
  std::array<char32_t, 128> high{};
  std::unordered_map<char32_t, unsigned char> encode;  // everything but ASCII other than 0x1A
};

struct Patterns {
  Regex32 badness{badness_pattern()};
  Regex32 utf8_detector{utf8_detector_pattern()};
  Regex8 altered_utf8{
      "[\\xc2\\xc3\\xc5\\xce\\xd0\\xd9][ ]"
      "|[\\xe2\\xe3][ ][\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf]"
      "|[\\xe0-\\xe3][\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf][ ]"
      "|[\\xf0][ ][\\x80-\\xbf][\\x80-\\xbf]"
      "|[\\xf0][\\x80-\\xbf][ ][\\x80-\\xbf]"
      "|[\\xf0][\\x80-\\xbf][\\x80-\\xbf][ ]",
      0};
  Regex8 a_grave_word{"\\xc3 (?! |quele|quela|quilo|s )", 0};
  Regex8 lossy_utf8{
      "[\\xc2-\\xdf][\\x1a]"
      "|[\\xc2-\\xc3][?]"
      "|\\xed[\\xa0-\\xaf][\\x1a?]\\xed[\\xb0-\\xbf][\\x1a?\\x80-\\xbf]"
      "|\\xed[\\xa0-\\xaf][\\x1a?\\x80-\\xbf]\\xed[\\xb0-\\xbf][\\x1a?]"
      "|[\\xe0-\\xef][\\x1a?][\\x1a\\x80-\\xbf]"
      "|[\\xe0-\\xef][\\x1a\\x80-\\xbf][\\x1a?]"
      "|[\\xf0-\\xf4][\\x1a?][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf]"
      "|[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a?][\\x1a\\x80-\\xbf]"
      "|[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf][\\x1a?]"
      "|\\x1a",
      0};
  std::vector<Codec> codecs;

  Patterns() {
    for (const auto& map : ftfy_detail::charmaps()) {
      Codec codec;
      codec.name = map.name;
      codec.sloppy = codec.name.starts_with("sloppy");
      for (std::size_t i = 0; i < 128; ++i) {
        codec.high[i] = map.high[i];
        codec.encode.emplace(map.high[i], static_cast<unsigned char>(0x80 + i));
      }
      codec.encode.emplace(map.sub, 0x1A);
      codecs.push_back(std::move(codec));
    }
  }
};

const Patterns& patterns() {
  static const Patterns p;
  return p;
}

// text.encode(codec); false where a character has no byte (possible_encoding is false).
bool encode(const Codec& codec, std::u32string_view text, std::string& out) {
  out.clear();
  for (char32_t c : text) {
    if (c < 0x80 && c != 0x1A) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    auto it = codec.encode.find(c);
    if (it == codec.encode.end()) return false;
    out.push_back(static_cast<char>(it->second));
  }
  return true;
}

// re.sub over bytes with a replacement computed from each match.
template <class F>
void sub_bytes(const Regex8& re, std::string& s, F&& replace) {
  Match m;
  if (!re.search(s, 0, m)) return;
  std::string out;
  std::size_t pos = 0;
  do {
    out.append(s, pos, m.begin - pos);
    replace(std::string_view(s).substr(m.begin, m.end - m.begin), out);
    pos = m.end;
  } while (pos < s.size() && re.search(s, pos, m));
  out.append(s, pos);
  s.swap(out);
}

// fixes.restore_byte_a0: put back the 0xA0 bytes that became spaces inside UTF-8 sequences.
void restore_byte_a0(std::string& bytes) {
  const Patterns& p = patterns();
  sub_bytes(p.a_grave_word, bytes, [](std::string_view, std::string& out) { out += "\xc3\xa0 "; });
  sub_bytes(p.altered_utf8, bytes, [](std::string_view match, std::string& out) {
    for (char b : match) out.push_back(b == ' ' ? '\xa0' : b);
  });
}

// fixes.replace_lossy_sequences: UTF-8 sequences with lost bytes (0x1A, or one '?') -> U+FFFD.
void replace_lossy_sequences(std::string& bytes) {
  sub_bytes(patterns().lossy_utf8, bytes, [](std::string_view, std::string& out) { out += "\xef\xbf\xbd"; });
}

// Length of the strictly valid UTF-8 character at b[i] (its value in `cp`); 0 if invalid.
int decode_one(std::string_view b, std::size_t i, char32_t& cp) {
  const auto u = [&](std::size_t k) { return static_cast<unsigned char>(b[k]); };
  const unsigned char lead = u(i);
  if (lead < 0x80) {
    cp = lead;
    return 1;
  }
  int len = 0;
  unsigned lo = 0x80, hi = 0xBF;  // allowed second byte: no overlongs, surrogates, > U+10FFFF
  if (lead >= 0xC2 && lead <= 0xDF)
    len = 2;
  else if (lead == 0xE0)
    len = 3, lo = 0xA0;
  else if (lead == 0xED)
    len = 3, hi = 0x9F;
  else if (lead >= 0xE1 && lead <= 0xEF)
    len = 3;
  else if (lead == 0xF0)
    len = 4, lo = 0x90;
  else if (lead >= 0xF1 && lead <= 0xF3)
    len = 4;
  else if (lead == 0xF4)
    len = 4, hi = 0x8F;
  if (len == 0 || i + len > b.size()) return 0;
  char32_t c = lead & (0xFF >> (len + 1));
  for (int k = 1; k < len; ++k) {
    const unsigned t = u(i + k);
    if (k == 1 ? (t < lo || t > hi) : (t & 0xC0) != 0x80) return 0;
    c = (c << 6) | (t & 0x3F);
  }
  cp = c;
  return len;
}

// bytes.decode("utf-8-variants") (ftfy/bad_codecs/utf8_variants.py): UTF-8, plus "\xc0\x80"
// as U+0000 and six-byte CESU-8 surrogate pairs; anything else invalid fails. `$` in that
// codec's byte patterns also matches before a final "\n", so that quirk is kept.
bool decode_utf8_variants(std::string_view b, std::u32string& out) {
  out.clear();
  const std::size_t n = b.size();
  const auto u = [&](std::size_t k) { return static_cast<unsigned char>(b[k]); };
  const auto at_dollar = [&](std::size_t p) { return p == n || (p + 1 == n && b[p] == '\n'); };
  const auto in = [&](std::size_t p, unsigned lo, unsigned hi) { return p < n && u(p) >= lo && u(p) <= hi; };
  std::size_t i = 0;
  while (i < n) {
    if (u(i) == 0xC0) {  // NULL_EXPR: \xc0(\x80|$)
      if (!(in(i + 1, 0x80, 0x80) || at_dollar(i + 1)) || n - i < 2) return false;
      out.push_back(0);
      i += 2;
      continue;
    }
    if (u(i) == 0xED) {
      // CESU8_EXPR: \xed([\xa0-\xaf]|$)([\x80-\xbf]|$)(\xed|$)([\xb0-\xbf]|$)([\x80-\xbf]|$)
      static constexpr unsigned kRanges[5][2] = {{0xA0, 0xAF}, {0x80, 0xBF}, {0xED, 0xED}, {0xB0, 0xBF}, {0x80, 0xBF}};
      bool cesu = true;
      for (std::size_t k = 0, p = i + 1; k < 5 && cesu; ++k) {
        if (in(p, kRanges[k][0], kRanges[k][1]))
          ++p;
        else
          cesu = at_dollar(p);
      }
      // The codec's SURROGATE_EXPR alternative (any other \xed[\xa0-\xbf]) fails to
      // decode there, exactly as the strict decoder below fails on it.
      if (cesu) {
        if (n - i < 6) return false;
        out.push_back(static_cast<char32_t>(((u(i + 1) & 0x0F) << 16) + ((u(i + 2) & 0x3F) << 10) +
                                            ((u(i + 4) & 0x0F) << 6) + (u(i + 5) & 0x3F) + 0x10000));
        i += 6;
        continue;
      }
    }
    char32_t cp = 0;
    const int len = decode_one(b, i, cp);
    if (len == 0) return false;
    out.push_back(cp);
    i += static_cast<std::size_t>(len);
  }
  return true;
}

void fix_encoding_loop(std::u32string& text);

// fixes.decode_inconsistent_utf8: fix each UTF-8-looking run that is bad on its own.
std::u32string decode_inconsistent_utf8(const std::u32string& text) {
  const Regex32& detector = patterns().utf8_detector;
  std::u32string out, piece;
  std::size_t pos = 0;
  Match m;
  while (pos < text.size() && detector.search(text, pos, m)) {
    out.append(text, pos, m.begin - pos);
    piece.assign(text, m.begin, m.end - m.begin);
    if (piece.size() < text.size() && ftfy_is_bad(piece)) fix_encoding_loop(piece);
    out += piece;
    pos = m.end;
  }
  out.append(text, pos);
  return out;
}

// ftfy._fix_encoding_one_step_and_explain, without the explanation.
std::u32string fix_encoding_step(const std::u32string& text) {
  if (text.empty()) return text;
  bool ascii = true;
  for (char32_t c : text) ascii = ascii && c < 0x80;
  if (ascii || !ftfy_is_bad(text)) return text;

  const Patterns& p = patterns();
  bool latin1_possible = false;
  std::string bytes;
  std::u32string fixed;
  Match m;
  for (const Codec& codec : p.codecs) {
    if (!encode(codec, text, bytes)) continue;
    if (codec.name == "latin-1") latin1_possible = true;
    if (codec.name != "macroman" && p.altered_utf8.search(bytes, 0, m)) restore_byte_a0(bytes);
    if (codec.sloppy) replace_lossy_sequences(bytes);
    const bool variants = bytes.find('\xed') != std::string::npos || bytes.find('\xc0') != std::string::npos;
    if (variants ? decode_utf8_variants(bytes, fixed) : utf8_to_u32(bytes, fixed)) return fixed;
  }

  if (p.utf8_detector.contains(text)) {
    fixed = decode_inconsistent_utf8(text);
    if (fixed != text) return fixed;
  }

  // Latin-1 text outside windows-1252 (C1 controls): read it as strict windows-1252, which
  // fails on the five bytes windows-1252 leaves unassigned.
  if (latin1_possible) {
    fixed = text;
    bool ok = true;
    for (char32_t& c : fixed) {
      if (c < 0x80 || c > 0x9F) continue;
      const char32_t w = ftfy_detail::sloppy_windows_1252(static_cast<unsigned char>(c));
      ok = ok && w != c;
      c = w;
    }
    if (ok && fixed != text) return fixed;
  }

  bool has_c1 = false;
  for (char32_t c : text) has_c1 = has_c1 || (c >= 0x80 && c <= 0x9F);
  if (has_c1) {
    fixed = text;
    for (char32_t& c : fixed)
      if (c >= 0x80 && c <= 0x9F) c = ftfy_detail::sloppy_windows_1252(static_cast<unsigned char>(c));
    return fixed;
  }
  return text;
}

void fix_encoding_loop(std::u32string& text) {
  while (true) {
    std::u32string next = fix_encoding_step(text);
    if (next == text) return;
    text.swap(next);
  }
}

}  // namespace

bool ftfy_is_bad(std::u32string_view text) { return patterns().badness.contains(text); }

void ftfy_fix_encoding(std::u32string& text) {
  // The first test of every step: pure ASCII never changes. Checked here so that the
  // common case allocates nothing.
  bool ascii = true;
  for (char32_t c : text) ascii = ascii && c < 0x80;
  if (!ascii) fix_encoding_loop(text);
}

}  // namespace rsclip::data::text
