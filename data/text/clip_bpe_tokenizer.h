// open_clip 3.3.0 SimpleTokenizer (OpenAI CLIP's byte-level BPE), reimplemented:
//
//  1. clean (data/text/text_clean.h; "lower" by default: ftfy.fix_text, html.unescape twice,
//     whitespace collapse, lower-case);
//  2. split with open_clip's pattern
//       <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//     (case-insensitive; PCRE2 with UTF + UCP, `\s` spelled out as the White_Space set the
//     Python `regex` module uses, since PCRE2's `\s` also matches U+180E; U+0345, which the
//     case-insensitive `regex` module matches with no alternative, is skipped likewise);
//  3. each piece's UTF-8 bytes become symbols (the 256 byte symbols, the last one in its
//     "</w>" form), merged pair by pair in merge-rank order (lowest first, every occurrence
//     left to right) until no ranked pair remains; a piece spelled exactly "<start_of_text>"
//     or "<end_of_text>" is that special id;
//  4. ids: 0..255 byte symbols (bytes_to_unicode order), 256..511 the same with "</w>",
//     512.. one per merge line (lines 1..48894 of bpe_simple_vocab_16e6.txt.gz, which is
//     compiled into the library from third_party/clip_bpe), <start_of_text> = 49406,
//     <end_of_text> = 49407;
//  5. [SOT] + ids + [EOT], cut to context_length with the last id forced to EOT, zero padded.
//
// BPE results are cached per thread (a bounded map from piece to ids), so encode() takes no
// lock.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "data/text/text_clean.h"
#include "data/text/tokenizer.h"

namespace rsclip::data {

class ClipBpeTokenizer final : public Tokenizer {
 public:
  static constexpr std::int64_t kSot = 49406;
  static constexpr std::int64_t kEot = 49407;
  static constexpr std::int64_t kVocabSize = 49408;

  explicit ClipBpeTokenizer(int context_length = 77, text::CleanMode clean = text::CleanMode::lower);

  int context_length() const override { return context_length_; }
  void encode(std::string_view text, std::int64_t* out) const override;

  // open_clip SimpleTokenizer.encode: the ids of the cleaned text, without SOT/EOT and
  // without truncation.
  std::vector<std::int64_t> encode_ids(std::string_view text) const;

  class Vocabulary;

 private:
  // Appends ids of `text` to `out` until it holds `limit` ids.
  void append_ids(std::string_view text, std::vector<std::int64_t>& out, std::size_t limit) const;

  std::shared_ptr<const Vocabulary> vocab_;
  int context_length_;
  text::CleanMode clean_;
};

}  // namespace rsclip::data
