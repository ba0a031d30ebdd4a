// The `data.tokenizer:` settings: which tokenizer, its context length and options (no torch
// here; data/text/tokenizer.h makes tokenizers from it).
#pragma once

#include <string>

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

}  // namespace rsclip::data
