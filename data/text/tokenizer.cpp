#include "data/text/tokenizer.h"

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>

#include "core/base/error.h"
#include "data/text/clip_bpe_tokenizer.h"
#include "data/text/sentencepiece_tokenizer.h"

namespace rsclip::data {

void TokenizerConfig::validate() const {
  if (type != "clip" && type != "sentencepiece")
    throw Error("unknown tokenizer type '" + type + "'", "type", "use clip or sentencepiece");
  if (context_length < 2)
    throw Error("context_length must be at least 2, got " + std::to_string(context_length), "context_length");
  if (!clean.empty()) text::parse_clean_mode(clean);
  if (type == "sentencepiece" && sentencepiece_model.empty())
    throw Error("type sentencepiece needs a model file", "sentencepiece_model",
                "set sentencepiece_model to the text tower's .model file");
}

at::Tensor Tokenizer::tokenize(const std::vector<std::string>& texts) const {
  const auto n = static_cast<std::int64_t>(texts.size());
  const std::int64_t length = context_length();
  at::Tensor out = at::empty({n, length}, at::kLong);
  std::int64_t* data = out.data_ptr<std::int64_t>();
  at::parallel_for(0, n, 256, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) encode(texts[static_cast<std::size_t>(i)], data + i * length);
  });
  return out;
}

std::unique_ptr<Tokenizer> make_tokenizer(const TokenizerConfig& cfg) {
  cfg.validate();
  if (cfg.type == "sentencepiece") return std::make_unique<SentencePieceTokenizer>(cfg);
  return std::make_unique<ClipBpeTokenizer>(cfg.context_length,
                                            text::parse_clean_mode(cfg.clean.empty() ? "lower" : cfg.clean));
}

}  // namespace rsclip::data
