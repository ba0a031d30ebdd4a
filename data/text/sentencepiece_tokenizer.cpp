#include "data/text/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <vector>

#include "core/base/error.h"

namespace rsclip::data {

SentencePieceTokenizer::SentencePieceTokenizer(const TokenizerConfig& cfg)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()),
      context_length_(cfg.context_length),
      clean_(text::parse_clean_mode(cfg.clean.empty() ? "canonicalize" : cfg.clean)) {
  if (cfg.sentencepiece_model.empty())
    throw Error("no SentencePiece model given", "tokenizer.sentencepiece_model",
                "set tokenizer.sentencepiece_model to the .model file of the text tower");
  const auto status = processor_->Load(cfg.sentencepiece_model);
  if (!status.ok())
    throw Error("cannot load SentencePiece model: " + status.ToString(), cfg.sentencepiece_model,
                "pass a SentencePiece .model file (a serialized ModelProto)");
  const auto model_id = [&](int id, const std::string& key) -> std::int64_t {
    if (id < 0)
      throw Error("the SentencePiece model defines no id for tokenizer." + key, cfg.sentencepiece_model,
                  "set tokenizer." + key + ": false");
    return id;
  };
  if (cfg.sentencepiece_bos) bos_id_ = model_id(processor_->bos_id(), "sentencepiece_bos");
  if (cfg.sentencepiece_eos) eos_id_ = model_id(processor_->eos_id(), "sentencepiece_eos");
  pad_id_ = cfg.sentencepiece_pad_id >= 0 ? cfg.sentencepiece_pad_id : std::max(processor_->pad_id(), 0);
  const int specials = (bos_id_ >= 0) + (eos_id_ >= 0);
  if (context_length_ <= specials)
    throw Error("context_length " + std::to_string(context_length_) + " leaves no room for text",
                "tokenizer.context_length", "use a context length above the number of BOS/EOS ids");
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

void SentencePieceTokenizer::encode(std::string_view text, std::int64_t* out) const {
  thread_local std::string cleaned;
  thread_local std::vector<int> pieces;
  text::clean_text(text, clean_, cleaned);
  pieces.clear();
  const auto status = processor_->Encode(cleaned, &pieces);
  TORCH_CHECK(status.ok(), "SentencePiece encode failed: ", status.ToString());
  const auto n = static_cast<std::size_t>(context_length_);
  std::size_t k = 0;
  if (bos_id_ >= 0) out[k++] = bos_id_;
  const std::size_t room = n - k - (eos_id_ >= 0 ? 1 : 0);
  for (std::size_t i = 0; i < std::min(room, pieces.size()); ++i) out[k++] = pieces[i];
  if (eos_id_ >= 0) out[k++] = eos_id_;
  std::fill(out + k, out + n, pad_id_);
}

}  // namespace rsclip::data
