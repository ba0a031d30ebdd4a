#include "data/text/html_unescape.h"

#include <string_view>
#include <unordered_map>

#include <c10/util/Exception.h>

#include "data/text/text_unicode.h"

extern "C" const unsigned char rsclip_html5_entities_begin[], rsclip_html5_entities_end[];

namespace rsclip::data::text {
namespace {

using EntityMap = std::unordered_map<std::string, std::u32string>;

bool is_ascii_alnum(char32_t c) { return (c >= U'0' && c <= U'9') || ((c | 0x20) >= U'a' && (c | 0x20) <= U'z'); }
bool is_hex(char32_t c) { return (c >= U'0' && c <= U'9') || ((c | 0x20) >= U'a' && (c | 0x20) <= U'f'); }

// The key for a code-point name, or false if it has a non-ASCII character (no entity has).
bool ascii_key(std::u32string_view name, std::string& key) {
  key.clear();
  for (char32_t c : name) {
    if (c >= 0x80) return false;
    key.push_back(static_cast<char>(c));
  }
  return true;
}

EntityMap parse_table() {
  EntityMap map;
  const std::string_view data(reinterpret_cast<const char*>(rsclip_html5_entities_begin),
                              static_cast<std::size_t>(rsclip_html5_entities_end - rsclip_html5_entities_begin));
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t eol = data.find('\n', pos);
    if (eol == std::string_view::npos) eol = data.size();
    const std::string_view line = data.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) continue;
    const std::size_t tab = line.find('\t');
    TORCH_CHECK(tab != std::string_view::npos && tab > 0, "malformed embedded entity table line: ", line);
    std::u32string value;
    std::size_t i = tab + 1;
    while (i < line.size()) {
      char32_t cp = 0;
      std::size_t digits = 0;
      for (; i < line.size() && line[i] != ' '; ++i, ++digits) {
        const char h = line[i];
        cp = cp * 16 + static_cast<char32_t>(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
      }
      TORCH_CHECK(digits > 0 && digits <= 6, "malformed embedded entity table line: ", line);
      value.push_back(cp);
      if (i < line.size()) ++i;
    }
    map.emplace(std::string(line.substr(0, tab)), std::move(value));
  }
  TORCH_CHECK(map.size() == 2231, "embedded HTML5 entity table has ", map.size(), " entries, expected 2231");
  return map;
}

const EntityMap& html5() {
  static const EntityMap map = parse_table();
  return map;
}

// ftfy chardata._build_html_entities: every ';'-terminated name, and for all-lower-case
// names the upper-cased spelling (value upper-cased with str.upper) unless html.unescape
// already gives that spelling a meaning.
EntityMap build_ftfy_table() {
  EntityMap map;
  std::u32string probe, decoded;
  std::u16string scratch;
  for (const auto& [name, value] : html5()) {
    if (name.back() != ';') continue;
    map.emplace(name, value);
    bool lower = true;
    for (char c : name) lower = lower && !(c >= 'A' && c <= 'Z');
    if (!lower) continue;
    std::string upper = name;
    for (char& c : upper)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    probe.assign(1, U'&');
    for (char c : upper) probe.push_back(static_cast<unsigned char>(c));
    html_unescape(probe, decoded);
    if (decoded != probe) continue;
    std::u32string upper_value = value;
    to_upper(upper_value, scratch);
    map.emplace(std::move(upper), std::move(upper_value));
  }
  return map;
}

const EntityMap& ftfy_table() {
  static const EntityMap map = build_ftfy_table();
  return map;
}

// Python html._invalid_charrefs: numeric references the HTML5 parser remaps.
bool remapped_charref(std::uint64_t num, std::u32string& out) {
  static constexpr char16_t kC1[32] = {0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                       0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
                                       0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                       0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  if (num == 0x00)
    out.push_back(0xFFFD);
  else if (num == 0x0D)
    out.push_back(U'\r');
  else if (num >= 0x80 && num <= 0x9F)
    out.push_back(kC1[num - 0x80]);
  else
    return false;
  return true;
}

// Python html._invalid_codepoints: references to these decode to nothing.
bool dropped_codepoint(std::uint64_t c) {
  return (c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || (c >= 0x7F && c <= 0x9F) ||
         (c >= 0xFDD0 && c <= 0xFDEF) || (c <= 0x10FFFF && (c & 0xFFFE) == 0xFFFE);
}

// html._replace_charref for a numeric reference; `digits` excludes '#', 'x' and ';'.
void decode_numeric(std::u32string_view digits, bool hex, std::u32string& out) {
  std::uint64_t num = 0;
  for (char32_t c : digits) {
    const unsigned d = c <= U'9' ? c - U'0' : (c | 0x20) - U'a' + 10;
    num = num * (hex ? 16 : 10) + d;
    if (num > 0x10FFFF) num = 0x110000;  // Python's int is unbounded; all such values act alike
  }
  if (remapped_charref(num, out)) return;
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
    out.push_back(0xFFFD);
    return;
  }
  if (dropped_codepoint(num)) return;
  out.push_back(static_cast<char32_t>(num));
}

bool ends_named_ref(char32_t c) {
  return c == U'\t' || c == U'\n' || c == U'\f' || c == U' ' || c == U'<' || c == U'&' || c == U'#' || c == U';';
}

}  // namespace

void html_unescape(const std::u32string& in, std::u32string& out) {
  out.clear();
  const std::size_t n = in.size();
  std::string key;
  std::size_t i = 0;
  while (i < n) {
    if (in[i] != U'&') {
      out.push_back(in[i++]);
      continue;
    }
    const std::size_t start = i + 1;  // first character after '&'
    // Alternatives in the order of html._charref: '#' digits, '#x' hex, then a name.
    if (start < n && in[start] == U'#') {
      std::size_t j = start + 1;
      bool hex = false;
      std::size_t digits_begin = j;
      while (j < n && in[j] >= U'0' && in[j] <= U'9') ++j;
      if (j == digits_begin && j < n && (in[j] == U'x' || in[j] == U'X')) {
        hex = true;
        digits_begin = ++j;
        while (j < n && is_hex(in[j])) ++j;
      }
      if (j == digits_begin) {  // no digits: not a reference ('#' cannot start a name)
        out.push_back(in[i++]);
        continue;
      }
      decode_numeric(std::u32string_view(in).substr(digits_begin, j - digits_begin), hex, out);
      if (j < n && in[j] == U';') ++j;
      i = j;
      continue;
    }
    std::size_t j = start;
    while (j < n && j - start < 32 && !ends_named_ref(in[j])) ++j;
    if (j == start) {
      out.push_back(in[i++]);
      continue;
    }
    if (j < n && in[j] == U';') ++j;
    const std::u32string_view s = std::u32string_view(in).substr(start, j - start);
    const EntityMap& table = html5();
    bool done = false;
    if (ascii_key(s, key)) {
      if (auto it = table.find(key); it != table.end()) {
        out += it->second;
        done = true;
      }
    }
    // The longest known prefix of at least two characters, the rest kept as text.
    for (std::size_t x = s.size() - 1; !done && x >= 2; --x) {
      if (!ascii_key(s.substr(0, x), key)) continue;
      if (auto it = table.find(key); it != table.end()) {
        out += it->second;
        out.append(s.substr(x));
        done = true;
      }
    }
    if (!done) {
      out.push_back(U'&');
      out.append(s);
    }
    i = j;
  }
}

void ftfy_unescape_html(const std::u32string& in, std::u32string& out) {
  out.clear();
  const std::size_t n = in.size();
  std::string key;
  std::u32string ref, decoded;
  std::size_t i = 0;
  while (i < n) {
    // HTML_ENTITY_RE = "&#?[0-9A-Za-z]{1,24};"
    std::size_t j = i + 1;
    if (in[i] == U'&') {
      if (j < n && in[j] == U'#') ++j;
      const std::size_t name_begin = j;
      while (j < n && j - name_begin <= 24 && is_ascii_alnum(in[j])) ++j;
      const std::size_t len = j - name_begin;
      if (len >= 1 && len <= 24 && j < n && in[j] == U';') {
        ++j;
        const std::u32string_view match = std::u32string_view(in).substr(i, j - i);
        const EntityMap& table = ftfy_table();
        if (ascii_key(match.substr(1), key)) {
          if (auto it = table.find(key); it != table.end()) {
            out += it->second;
            i = j;
            continue;
          }
        }
        if (match[1] == U'#') {
          // fixes._unescape_fixup: html.unescape, kept only if it consumed the ';'.
          ref.assign(match);
          html_unescape(ref, decoded);
          if (decoded.find(U';') == std::u32string::npos)
            out += decoded;
          else
            out.append(match);
        } else {
          out.append(match);
        }
        i = j;
        continue;
      }
    }
    out.push_back(in[i++]);
  }
}

}  // namespace rsclip::data::text
