// Data shared by the ftfy reimplementation (ftfy_fix_text.cpp, ftfy_fix_encoding.cpp),
// generated from ftfy 6.3.1 into ftfy_tables.inc by scripts/gen_ftfy_tables.py.
#pragma once

#include <span>
#include <string_view>

namespace rsclip::data::text::ftfy_detail {

struct Translation {
  char32_t from;
  std::u32string_view to;
};

// One of ftfy's single-byte codecs (chardata.CHARMAP_ENCODINGS): what bytes 0x80..0xFF and
// 0x1A decode to. Bytes 0x00..0x7F other than 0x1A decode to themselves in all of them.
struct Charmap {
  const char* name;
  std::u32string_view high;  // 128 characters
  char32_t sub;              // byte 0x1A: U+001A, or U+FFFD in the "sloppy-" codecs
};

std::span<const Charmap> charmaps();
std::span<const Translation> ligature_entries();
std::span<const Translation> width_entries();

// The windows-1252 reading of a byte, unassigned bytes kept as Latin-1 (sloppy-windows-1252).
char32_t sloppy_windows_1252(unsigned char byte);

// badness.MOJIBAKE_CATEGORIES and chardata.UTF8_CLUES as PCRE2 class contents.
struct CharacterClasses {
  const char *common, *c1, *bad, *law, *currency, *start_punctuation, *end_punctuation, *numeric, *kaomoji,
      *upper_accented, *lower_accented, *upper_common, *lower_common, *box;
  const char *utf8_first_of_2, *utf8_first_of_3, *utf8_first_of_4, *utf8_continuation, *utf8_continuation_strict;
};
const CharacterClasses& character_classes();

}  // namespace rsclip::data::text::ftfy_detail
