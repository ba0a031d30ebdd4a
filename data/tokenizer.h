// Text tokenizers: a caption in, exactly context_length token ids out, equal to what
// open_clip 3.3.0's tokenizer for the model gives.
//
//  - type "clip": open_clip's SimpleTokenizer (OpenAI CLIP byte-level BPE, 49,408 ids,
//    <start_of_text> = 49406, <end_of_text> = 49407, zero padding), data/clip_bpe_tokenizer.h.
//  - type "sentencepiece": a SentencePiece model laid out as open_clip's SigLipTokenizer /
//    HFTokenizer lay out a T5-style vocabulary (no BOS, EOS after truncation, pad id),
//    data/sentencepiece_tokenizer.h.
//
// Both clean the text first as open_clip does (data/text_clean.h).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rsclip::data {

struct TokenizerConfig {
  std::string type = "clip";        // "clip" | "sentencepiece"
  std::string sentencepiece_model;  // path to a .model file when type == "sentencepiece"
  int context_length = 77;
  // open_clip's clean= argument: "lower" | "whitespace" | "canonicalize"; empty = the
  // default of the tokenizer open_clip uses for the type ("lower" for SimpleTokenizer,
  // "canonicalize" for SigLipTokenizer).
  std::string clean;
  // sentencepiece: whether the model's BOS id starts and its EOS id ends every sequence,
  // and the padding id (-1: the model's pad id, or 0 if it has none). open_clip's SigLIP
  // models (T5 vocabularies) use bos false, eos true, pad 1 (gemma vocabularies: pad 0).
  bool sentencepiece_bos = false;
  bool sentencepiece_eos = true;
  int sentencepiece_pad_id = -1;

  template <class V>
  void visit(V& v) {
    v("type", type);
    v("sentencepiece_model", sentencepiece_model);
    v("context_length", context_length);
    v("clean", clean);
    v("sentencepiece_bos", sentencepiece_bos);
    v("sentencepiece_eos", sentencepiece_eos);
    v("sentencepiece_pad_id", sentencepiece_pad_id);
  }
  void validate() const;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual int context_length() const = 0;
  // Exactly context_length ids for one UTF-8 text (SOT ... EOT, zero padded; over-long text
  // is truncated and the last id forced to EOT, as open_clip does). Safe to call from many
  // threads.
  virtual void encode(std::string_view text, std::int64_t* out) const = 0;
  // [N, context_length] int64; large batches are encoded on the intra-op thread pool.
  torch::Tensor tokenize(const std::vector<std::string>& texts) const;
};

std::unique_ptr<Tokenizer> make_tokenizer(const TokenizerConfig& cfg);

}  // namespace rsclip::data
