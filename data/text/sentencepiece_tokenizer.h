// A SentencePiece model as open_clip lays out T5-style vocabularies (SigLipTokenizer, and
// HFTokenizer for the SigLIP configs, open_clip 3.3.0):
//
//   clean (data/text/text_clean.h; "canonicalize" by default, as SigLipTokenizer does)
//   -> SentencePieceProcessor::Encode (Debian libsentencepiece)
//   -> [BOS if enabled] + pieces cut to what still fits + [EOS if enabled], padded with the
//      pad id to context_length.
//
// With the SigLIP settings (no BOS, EOS, pad 1) that is input_ids of
// tokenizer(texts, max_length=L, padding="max_length", truncation=True): the pieces cut to
// L - 1 and EOS appended. Parity is tested against Python `sentencepiece`'s encode; the
// Hugging Face fast tokenizer that open_clip actually calls is not installed in the
// reference environment, so its own normalisation differences (if any) are not covered.
#pragma once

#include <memory>
#include <string_view>

#include "data/text/text_clean.h"
#include "data/text/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace rsclip::data {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Loads cfg.sentencepiece_model; rsclip::Error naming the file if it cannot.
  explicit SentencePieceTokenizer(const TokenizerConfig& cfg);
  ~SentencePieceTokenizer() override;

  int context_length() const override { return context_length_; }
  void encode(std::string_view text, std::int64_t* out) const override;

  std::int64_t bos_id() const { return bos_id_; }  // -1 when not added
  std::int64_t eos_id() const { return eos_id_; }  // -1 when not added
  std::int64_t pad_id() const { return pad_id_; }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  int context_length_;
  text::CleanMode clean_;
  std::int64_t bos_id_ = -1, eos_id_ = -1, pad_id_ = 0;
};

}  // namespace rsclip::data
