// The text cleaning open_clip 3.3.0 applies before tokenising (open_clip/tokenizer.py):
//
//   basic_clean(t)   = html.unescape(html.unescape(ftfy.fix_text(t))).strip()
//   "lower"          = " ".join(basic_clean(t).split()).strip().lower()   (SimpleTokenizer default)
//   "whitespace"     = " ".join(basic_clean(t).split()).strip()           (HFTokenizer default)
//   "canonicalize"   = canonicalize_text(basic_clean(t)): "_" -> " ", ASCII punctuation
//                      (string.punctuation) removed, lower-cased, whitespace collapsed
//                      (SigLipTokenizer, and configs with tokenizer_kwargs.clean)
//
// ftfy.fix_text is data/text/ftfy.h; html.unescape is data/text/html_unescape.h; split/strip/lower
// follow Python's str (data/text/text_unicode.h).
#pragma once

#include <string>
#include <string_view>

namespace rsclip::data::text {

enum class CleanMode { lower, whitespace, canonicalize };

// "lower" | "whitespace" | "canonicalize"; rsclip::Error otherwise.
CleanMode parse_clean_mode(const std::string& name);

// Cleans UTF-8 `text` into `out` (UTF-8). Invalid UTF-8 is read as Python's
// bytes.decode("utf-8", "replace") would (U+FFFD per bad sequence). Thread-safe.
void clean_text(std::string_view text, CleanMode mode, std::string& out);

}  // namespace rsclip::data::text
