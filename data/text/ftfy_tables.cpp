// The generated ftfy data (ftfy_tables.inc) behind the accessors of ftfy_internal.h.
#include "data/text/ftfy_internal.h"

namespace rsclip::data::text::ftfy_detail {
namespace {
#include "data/text/ftfy_tables.inc"
}  // namespace

std::span<const Charmap> charmaps() { return kCharmaps; }
std::span<const Translation> ligature_entries() { return kLigatures; }
std::span<const Translation> width_entries() { return kWidthMap; }

char32_t sloppy_windows_1252(unsigned char byte) {
  if (byte == 0x1A) return kCharmaps[1].sub;
  return byte < 0x80 ? byte : kCharmaps[1].high[byte - 0x80];
}

const CharacterClasses& character_classes() {
  static constexpr CharacterClasses classes{kCat_common,
                                            kCat_c1,
                                            kCat_bad,
                                            kCat_law,
                                            kCat_currency,
                                            kCat_start_punctuation,
                                            kCat_end_punctuation,
                                            kCat_numeric,
                                            kCat_kaomoji,
                                            kCat_upper_accented,
                                            kCat_lower_accented,
                                            kCat_upper_common,
                                            kCat_lower_common,
                                            kCat_box,
                                            kClue_utf8_first_of_2,
                                            kClue_utf8_first_of_3,
                                            kClue_utf8_first_of_4,
                                            kClue_utf8_continuation,
                                            kClue_utf8_continuation_strict};
  return classes;
}

}  // namespace rsclip::data::text::ftfy_detail
