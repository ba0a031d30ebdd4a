// ftfy 6.3.1 `fix_text(text)` with its default TextFixerConfig, reimplemented on code
// points, as open_clip's basic_clean calls it before tokenising. Every default step is
// reproduced, in ftfy's order, repeated until the text stops changing, per line segment:
//
//   unescape_html ("auto": off from the first line that contains '<' onwards),
//   fix_encoding (mojibake: re-encode in one of ftfy's ten single-byte codecs and decode
//     as UTF-8 / CESU-8 when the "badness" heuristic fires, with restore_byte_a0,
//     replace_lossy_sequences, decode_inconsistent_utf8 and fix_c1_controls),
//   fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes,
//   fix_line_breaks, remove_terminal_escapes, remove_control_chars, NFC.
//
// Not reproduced, because it cannot arise from UTF-8 input: fix_surrogates (a UTF-8 string
// holds no surrogate code points; invalid UTF-8 is decoded to U+FFFD before cleaning).
// Unicode data comes from ICU 72 (Unicode 15.0) and PCRE2 10.42 (Unicode 14.0) where
// Python 3.11 uses Unicode 14.0; characters first assigned after 14.0 may be treated
// differently.
#pragma once

#include <string>
#include <string_view>

namespace rsclip::data::text {

// ftfy.fix_text(text) in place.
void ftfy_fix_text(std::u32string& text);

// The pieces, for tests: ftfy.badness.is_bad and ftfy.fix_encoding.
bool ftfy_is_bad(std::u32string_view text);
void ftfy_fix_encoding(std::u32string& text);

}  // namespace rsclip::data::text
