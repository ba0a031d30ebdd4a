// The SentencePiece tokenizer against Python `sentencepiece` with two tiny models trained
// at test time (scripts/reference/sentencepiece_cases.py): four layouts (SigLIP's, the
// model's own pad id, BOS + EOS, neither) over ~2,200 strings of the tokenizer case
// generator, and `rsclip tokenize --tokenizer sentencepiece`.
#include "data/text/sentencepiece_tokenizer.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "tests/reference/reference_cache.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {

namespace fs = std::filesystem;

struct SpCases {
  fs::path dir;
  StateDict tensors;
  nlohmann::json layouts;
  std::vector<std::string> texts;
};

const SpCases& sp_cases() {
  static const SpCases c = [] {
    SpCases out;
    out.dir = rsclip::testing::cached_reference(
        {"scripts/reference/sentencepiece_cases.py", "scripts/reference/tokenizer_cases.py"}, {}, "");
    Metadata meta;
    out.tensors = load_safetensors(out.dir / "cases.safetensors", &meta);
    out.layouts = nlohmann::json::parse(meta.at("layouts"));
    const torch::Tensor bytes = out.tensors["texts_bytes"].contiguous();
    const torch::Tensor offsets = out.tensors["texts_offsets"].contiguous();
    const auto* b = reinterpret_cast<const char*>(bytes.data_ptr<std::uint8_t>());
    const auto* o = offsets.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i + 1 < offsets.numel(); ++i) out.texts.emplace_back(b + o[i], b + o[i + 1]);
    return out;
  }();
  return c;
}

TokenizerConfig config_of(const nlohmann::json& layout) {
  TokenizerConfig cfg;
  cfg.type = "sentencepiece";
  cfg.sentencepiece_model = (sp_cases().dir / layout.at("model").get<std::string>()).string();
  cfg.clean = layout.at("clean").get<std::string>();
  cfg.sentencepiece_bos = layout.at("bos").get<bool>();
  cfg.sentencepiece_eos = layout.at("eos").get<bool>();
  cfg.sentencepiece_pad_id = layout.at("pad_id").get<int>();
  cfg.context_length = layout.at("context_length").get<int>();
  return cfg;
}

TEST(SentencePieceTokenizer, EqualsPythonSentencePieceInEveryLayout) {
  const SpCases& c = sp_cases();
  for (std::size_t k = 0; k < c.layouts.size(); ++k) {
    const auto cfg = config_of(c.layouts[k]);
    auto tok = make_tokenizer(cfg);
    const torch::Tensor expected = c.tensors["tokens_" + std::to_string(k)];
    const torch::Tensor got = tok->tokenize(c.texts);
    ASSERT_EQ(got.sizes(), expected.sizes());
    const torch::Tensor rows = (got == expected).all(1);
    const auto equal = rows.sum().item<std::int64_t>();
    std::printf("layout %zu %s: %lld of %zu rows identical\n", k, c.layouts[k].dump().c_str(),
                static_cast<long long>(equal), c.texts.size());
    EXPECT_EQ(equal, static_cast<std::int64_t>(c.texts.size())) << "layout " << c.layouts[k].dump();
    for (std::int64_t i = 0, shown = 0; i < rows.size(0) && shown < 5; ++i) {
      if (rows[i].item<bool>()) continue;
      ++shown;
      ADD_FAILURE() << "text " << i << ": \"" << c.texts[static_cast<std::size_t>(i)] << "\"\n  expected "
                    << expected[i] << "\n  got " << got[i];
    }
  }
}

TEST(SentencePieceTokenizer, DefaultsComeFromTheModel) {
  TokenizerConfig cfg;
  cfg.type = "sentencepiece";
  cfg.sentencepiece_model = (sp_cases().dir / "unigram.model").string();
  const SentencePieceTokenizer t5(cfg);
  EXPECT_EQ(t5.bos_id(), -1);
  EXPECT_EQ(t5.eos_id(), 1);
  EXPECT_EQ(t5.pad_id(), 0);
  cfg.sentencepiece_bos = true;  // the T5-style model has no BOS
  EXPECT_THROW(SentencePieceTokenizer{cfg}, Error);
  cfg.sentencepiece_model = (sp_cases().dir / "corpus.txt").string();  // not a model
  EXPECT_THROW(SentencePieceTokenizer{cfg}, Error);
}

TEST(SentencePieceTokenizer, ManyThreadsGiveTheSameIds) {
  const SpCases& c = sp_cases();
  auto tok = make_tokenizer(config_of(c.layouts[0]));
  const torch::Tensor expected = c.tensors["tokens_0"];
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::int64_t> row(static_cast<std::size_t>(tok->context_length()));
      for (std::size_t i = static_cast<std::size_t>(t); i < c.texts.size(); i += 3) {
        tok->encode(c.texts[i], row.data());
        if (!torch::equal(torch::tensor(row), expected[static_cast<std::int64_t>(i)])) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(SentencePieceTokenizer, CliEqualsPython) {
  const SpCases& c = sp_cases();
  const auto cfg = config_of(c.layouts[0]);
  const fs::path dir = rsclip::testing::scratch_dir();
  std::ofstream lines(dir / "texts.txt", std::ios::binary);
  std::vector<std::int64_t> rows;
  for (std::size_t i = 0; i < c.texts.size(); ++i) {
    if (c.texts[i].find_first_of("\r\n") != std::string::npos) continue;
    lines << c.texts[i] << '\n';
    rows.push_back(static_cast<std::int64_t>(i));
  }
  lines.close();
  const auto result = rsclip::testing::run_rsclip(
      {"tokenize", "--texts", (dir / "texts.txt").string(), "--out", (dir / "tokens.safetensors").string(),
       "--tokenizer", "sentencepiece", "--sentencepiece-model", cfg.sentencepiece_model, "--context-length",
       std::to_string(cfg.context_length), "--clean", cfg.clean, "--sentencepiece-pad-id",
       std::to_string(cfg.sentencepiece_pad_id)});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const torch::Tensor got = load_safetensors(dir / "tokens.safetensors")["tokens"];
  EXPECT_TRUE(torch::equal(got, c.tensors["tokens_0"].index_select(0, torch::tensor(rows))));
}

}  // namespace
}  // namespace rsclip::data
