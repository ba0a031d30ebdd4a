#include "data/text/text_clean.h"

#include "core/base/error.h"
#include "data/text/ftfy.h"
#include "data/text/html_unescape.h"
#include "data/text/text_unicode.h"

namespace rsclip::data::text {
namespace {

struct Scratch {
  std::u32string text, tmp;
  std::u16string u16;
};

// True when ftfy.fix_text and html.unescape both leave `text` as it is: printable ASCII
// plus tab, newline and form feed (no '\r', which fix_line_breaks rewrites, and none of the
// controls remove_control_chars drops), and no '&'. Most captions are like this.
bool cleaning_is_identity(std::string_view text) {
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\f') || c >= 0x7F || c == '&') return false;
  }
  return true;
}

bool is_ascii_punctuation(char32_t c) {  // Python's string.punctuation
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

// The fast path for cleaning_is_identity text: whitespace collapse (the only whitespace
// left is ' ', '\t', '\n', '\f') and ASCII case folding, straight on the bytes.
void clean_ascii(std::string_view text, CleanMode mode, std::string& out) {
  out.clear();
  bool pending_space = false;
  for (char ch : text) {
    if (mode == CleanMode::canonicalize) {
      if (ch == '_')
        ch = ' ';
      else if (is_ascii_punctuation(static_cast<unsigned char>(ch)))
        continue;
    }
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\f') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    if (mode != CleanMode::whitespace && ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
    out.push_back(ch);
  }
}

}  // namespace

CleanMode parse_clean_mode(const std::string& name) {
  if (name == "lower") return CleanMode::lower;
  if (name == "whitespace") return CleanMode::whitespace;
  if (name == "canonicalize") return CleanMode::canonicalize;
  throw Error("unknown text cleaning mode '" + name + "'", "tokenizer.clean",
              "use lower (open_clip SimpleTokenizer), whitespace (HFTokenizer) or canonicalize (SigLIP)");
}

void clean_text(std::string_view text, CleanMode mode, std::string& out) {
  if (cleaning_is_identity(text)) {
    clean_ascii(text, mode, out);
    return;
  }
  thread_local Scratch s;
  utf8_to_u32(text, s.text);
  // basic_clean
  ftfy_fix_text(s.text);
  html_unescape(s.text, s.tmp);
  html_unescape(s.tmp, s.text);
  strip(s.text);
  if (mode == CleanMode::canonicalize) {
    std::size_t w = 0;
    for (char32_t c : s.text) {
      if (c == U'_')
        c = U' ';
      else if (is_ascii_punctuation(c))
        continue;
      s.text[w++] = c;
    }
    s.text.resize(w);
    to_lower(s.text, s.u16);
    collapse_whitespace(s.text);
  } else {
    collapse_whitespace(s.text);
    if (mode == CleanMode::lower) to_lower(s.text, s.u16);
  }
  out.clear();
  append_utf8(s.text, out);
}

}  // namespace rsclip::data::text
