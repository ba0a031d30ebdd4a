// Text tokenizers: a caption in, exactly context_length token ids out, equal to what
// open_clip 3.3.0's tokenizer for the model gives.
//
//  - type "clip": open_clip's SimpleTokenizer (OpenAI CLIP byte-level BPE, 49,408 ids,
//    <start_of_text> = 49406, <end_of_text> = 49407, zero padding), data/text/clip_bpe_tokenizer.h.
//  - type "sentencepiece": a SentencePiece model laid out as open_clip's SigLipTokenizer /
//    HFTokenizer lay out a T5-style vocabulary (no BOS, EOS after truncation, pad id),
//    data/text/sentencepiece_tokenizer.h.
//
// Both clean the text first as open_clip does (data/text/text_clean.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "data/text/tokenizer_config.h"

namespace rsclip::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual int context_length() const = 0;
  // Exactly context_length ids for one UTF-8 text (SOT ... EOT, zero padded; over-long text
  // is truncated and the last id forced to EOT, as open_clip does). Safe to call from many
  // threads.
  virtual void encode(std::string_view text, std::int64_t* out) const = 0;
  // [N, context_length] int64; large batches are encoded on the intra-op thread pool.
  at::Tensor tokenize(const std::vector<std::string>& texts) const;
};

std::unique_ptr<Tokenizer> make_tokenizer(const TokenizerConfig& cfg);

}  // namespace rsclip::data
