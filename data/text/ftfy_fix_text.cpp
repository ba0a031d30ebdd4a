// ftfy.fix_text and the character-level fixers of ftfy/fixes.py (6.3.1). Mojibake repair
// (fix_encoding) is in ftfy_fix_encoding.cpp.
#include <algorithm>
#include <span>
#include <unordered_map>

#include "data/text/ftfy.h"
#include "data/text/ftfy_internal.h"
#include "data/text/html_unescape.h"
#include "data/text/text_unicode.h"

namespace rsclip::data::text {
namespace {

using ftfy_detail::Translation;

struct TranslationTable {
  std::unordered_map<char32_t, std::u32string_view> map;
  char32_t min = 0x10FFFF, max = 0;
  explicit TranslationTable(std::span<const Translation> entries) {
    for (const auto& e : entries) {
      map.emplace(e.from, e.to);
      min = std::min(min, e.from);
      max = std::max(max, e.from);
    }
  }
  const std::u32string_view* find(char32_t c) const {
    if (c < min || c > max) return nullptr;
    auto it = map.find(c);
    return it == map.end() ? nullptr : &it->second;
  }
};

// str.translate(table).
void translate(std::u32string& s, std::u32string& tmp, const TranslationTable& table) {
  std::size_t first = 0;
  while (first < s.size() && table.find(s[first]) == nullptr) ++first;
  if (first == s.size()) return;
  tmp.assign(s, 0, first);
  for (std::size_t i = first; i < s.size(); ++i) {
    if (const auto* to = table.find(s[i]))
      tmp.append(*to);
    else
      tmp.push_back(s[i]);
  }
  s.swap(tmp);
}

const TranslationTable& ligatures() {
  static const TranslationTable t(ftfy_detail::ligature_entries());
  return t;
}

const TranslationTable& width_map() {
  static const TranslationTable t(ftfy_detail::width_entries());
  return t;
}

// fixes.fix_c1_controls: C1 controls read as the windows-1252 characters of their byte.
void fix_c1_controls(std::u32string& s) {
  for (char32_t& c : s)
    if (c >= 0x80 && c <= 0x9F) c = ftfy_detail::sloppy_windows_1252(static_cast<unsigned char>(c));
}

// fixes.uncurl_quotes: [\u02bc\u2018-\u201b] -> ', [\u201c-\u201f] -> ".
void uncurl_quotes(std::u32string& s) {
  for (char32_t& c : s) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B))
      c = U'\'';
    else if (c >= 0x201C && c <= 0x201F)
      c = U'"';
  }
}

// fixes.fix_line_breaks: \r\n, \r, U+2028, U+2029, U+0085 -> \n.
void fix_line_breaks(std::u32string& s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char32_t c = s[i];
    if (c == U'\r') {
      if (i + 1 < s.size() && s[i + 1] == U'\n') continue;  // the \n that follows stays
      c = U'\n';
    } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
      c = U'\n';
    }
    s[w++] = c;
  }
  s.resize(w);
}

// fixes.remove_terminal_escapes: "\033\[((?:\d|;)*)([a-zA-Z])" removed; \d is Unicode Nd.
void remove_terminal_escapes(std::u32string& s) {
  if (s.find(U'\x1b') == std::u32string::npos) return;
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == U'\x1b' && i + 1 < s.size() && s[i + 1] == U'[') {
      std::size_t j = i + 2;
      while (j < s.size() && (s[j] == U';' || is_decimal_digit(s[j]))) ++j;
      if (j < s.size() && s[j] < 0x80 && ((s[j] | 0x20) >= U'a' && (s[j] | 0x20) <= U'z')) {
        i = j + 1;
        continue;
      }
    }
    s[w++] = s[i++];
  }
  s.resize(w);
}

// fixes.remove_control_chars (chardata.CONTROL_CHARS): U+00-08, 0B, 0E-1F, 7F, 206A-206F,
// FEFF, FFF9-FFFC.
constexpr bool is_removed_control(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

void remove_control_chars(std::u32string& s) {
  std::size_t w = 0;
  for (char32_t c : s)
    if (!is_removed_control(c)) s[w++] = c;
  s.resize(w);
}

struct Scratch {
  std::u32string before, tmp, segment, out;
  std::u16string u16;
};

// ftfy.fix_and_explain(segment) without the explanation: the fixers in order, repeated
// until a whole round leaves the text as it was.
void fix_segment(std::u32string& text, bool unescape_html, Scratch& scratch) {
  while (true) {
    scratch.before = text;
    if (unescape_html && text.find(U'&') != std::u32string::npos) {
      ftfy_unescape_html(text, scratch.tmp);
      text.swap(scratch.tmp);
    }
    ftfy_fix_encoding(text);
    fix_c1_controls(text);
    translate(text, scratch.tmp, ligatures());
    translate(text, scratch.tmp, width_map());
    uncurl_quotes(text);
    fix_line_breaks(text);
    remove_terminal_escapes(text);
    remove_control_chars(text);
    normalize_nfc(text, scratch.u16);
    if (text == scratch.before) return;
  }
}

}  // namespace

void ftfy_fix_text(std::u32string& text) {
  thread_local Scratch scratch;
  // TextFixerConfig.max_decode_length: longer lines are fixed in pieces of this many
  // code points.
  constexpr std::size_t kMaxDecodeLength = 1000000;
  scratch.out.clear();
  bool unescape_html = true;  // "auto", switched off for good by the first '<'
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t brk = text.find(U'\n', pos);
    brk = brk == std::u32string::npos ? text.size() : brk + 1;
    if (brk - pos > kMaxDecodeLength) brk = pos + kMaxDecodeLength;
    scratch.segment.assign(text, pos, brk - pos);
    if (unescape_html && scratch.segment.find(U'<') != std::u32string::npos) unescape_html = false;
    fix_segment(scratch.segment, unescape_html, scratch);
    scratch.out += scratch.segment;
    pos = brk;
  }
  text.swap(scratch.out);
}

}  // namespace rsclip::data::text
