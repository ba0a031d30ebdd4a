// HTML character references, decoded the two ways the CLIP text cleaning does:
//
//  - html_unescape: Python's html.unescape (CPython 3.11 Lib/html/__init__.py), which
//    open_clip's basic_clean applies twice. HTML5 rules: numeric references with or without
//    ';' (invalid numbers mapped as the standard says: C1 range via windows-1252, 0 and
//    surrogates and > U+10FFFF to U+FFFD, noncharacters and most controls removed), named
//    references from the WHATWG table, the legacy names also without ';' and as the longest
//    known prefix of a longer name ("&notit;" -> "¬it;").
//  - ftfy_unescape_html: ftfy 6.3.1 fixes.unescape_html, the stricter step inside
//    ftfy.fix_text: only "&name;" / "&#...;" spelled with a ';' and at most 24 alphanumerics,
//    plus all-caps spellings of lower-case entity names ("&EACUTE;" -> "É") where that
//    spelling is not itself an entity.
//
// The entity table is third_party/html5_entities/entities.txt, compiled into the library.
#pragma once

#include <string>

namespace rsclip::data::text {

// Appends the decoded form of `in` to `out` (cleared first). `in` and `out` must differ.
void html_unescape(const std::u32string& in, std::u32string& out);
void ftfy_unescape_html(const std::u32string& in, std::u32string& out);

}  // namespace rsclip::data::text
