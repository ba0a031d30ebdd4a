// Tokenizer unit tests that need no Python: known open_clip outputs, truncation and EOT,
// empty text, context lengths, configuration errors, thread safety, pathological input.
#include "data/text/tokenizer.h"

#include <chrono>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "core/base/config.h"
#include "core/base/error.h"
#include "data/text/clip_bpe_tokenizer.h"
#include "data/text/ftfy.h"
#include "data/text/text_unicode.h"

namespace rsclip::data {
namespace {

std::vector<std::int64_t> encode(const Tokenizer& tok, std::string_view text) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(tok.context_length()), -1);
  tok.encode(text, out.data());
  return out;
}

// The ids before the zero padding.
std::vector<std::int64_t> unpadded(std::vector<std::int64_t> ids) {
  while (!ids.empty() && ids.back() == 0) ids.pop_back();
  return ids;
}

std::string words(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += i ? " word" : "word";
  return s;
}

// Values printed by open_clip 3.3.0's open_clip.tokenize.
TEST(ClipTokenizer, KnownOpenClipOutputs) {
  const ClipBpeTokenizer tok;
  EXPECT_EQ(unpadded(encode(tok, "a diagram")), (std::vector<std::int64_t>{49406, 320, 22697, 49407}));
  EXPECT_EQ(unpadded(encode(tok, "A Satellite image of 3 planes &amp; a RUNWAY!")),
            (std::vector<std::int64_t>{49406, 320, 10316, 2867, 539, 274, 12581, 261, 320, 13927, 256, 49407}));
  // curly apostrophe, full-width letters and mojibake are fixed by ftfy first
  EXPECT_EQ(unpadded(encode(tok, "it\u2019s \uff26\uff35\uff2c\uff2c caf\u00c3\u00a9")),
            (std::vector<std::int64_t>{49406, 585, 568, 1476, 15304, 49407}));
}

TEST(ClipTokenizer, EmptyTextIsSotEotThenZeros) {
  const ClipBpeTokenizer tok;
  for (const char* text : {"", "   ", "\n\t", "\x01\x02"}) {
    const auto ids = encode(tok, text);
    ASSERT_EQ(ids.size(), 77u);
    EXPECT_EQ(ids[0], ClipBpeTokenizer::kSot);
    EXPECT_EQ(ids[1], ClipBpeTokenizer::kEot);
    for (std::size_t i = 2; i < ids.size(); ++i) EXPECT_EQ(ids[i], 0) << "position " << i;
  }
}

TEST(ClipTokenizer, TruncationKeepsEotLast) {
  const ClipBpeTokenizer tok;
  constexpr std::int64_t kWord = 2653;  // "word</w>"
  // 75 words fill the context exactly: nothing is cut.
  auto ids = encode(tok, words(75));
  EXPECT_EQ(ids[0], ClipBpeTokenizer::kSot);
  for (int i = 1; i <= 75; ++i) EXPECT_EQ(ids[i], kWord);
  EXPECT_EQ(ids[76], ClipBpeTokenizer::kEot);
  // 76 and 500 words: the 77th id would be a word; open_clip overwrites it with EOT.
  for (int n : {76, 77, 500}) {
    ids = encode(tok, words(n));
    EXPECT_EQ(ids[75], kWord) << n << " words";
    EXPECT_EQ(ids[76], ClipBpeTokenizer::kEot) << n << " words";
  }
}

TEST(ClipTokenizer, OtherContextLengths) {
  const ClipBpeTokenizer five(5);
  EXPECT_EQ(encode(five, "word"), (std::vector<std::int64_t>{49406, 2653, 49407, 0, 0}));
  const ClipBpeTokenizer four(4);
  EXPECT_EQ(encode(four, "many many words here"), (std::vector<std::int64_t>{49406, 1346, 1346, 49407}));
  const ClipBpeTokenizer two(2);
  EXPECT_EQ(encode(two, "anything at all"), (std::vector<std::int64_t>{49406, 49407}));
  EXPECT_THROW(ClipBpeTokenizer(1), c10::Error);
}

TEST(ClipTokenizer, SpecialTokenTextMapsToSpecialIds) {
  const ClipBpeTokenizer tok;
  EXPECT_EQ(unpadded(encode(tok, "<start_of_text><END_OF_TEXT>")),
            (std::vector<std::int64_t>{49406, 49406, 49407, 49407}));
}

TEST(ClipTokenizer, TokenizeEqualsEncodeRowByRow) {
  auto tok = make_tokenizer(TokenizerConfig{});
  std::vector<std::string> texts;
  for (int i = 0; i < 1000; ++i) texts.push_back("caption " + std::to_string(i) + " \u00e9t\u00e9 " + words(i % 90));
  const torch::Tensor t = tok->tokenize(texts);
  ASSERT_EQ(t.sizes(), (torch::IntArrayRef{1000, 77}));
  ASSERT_EQ(t.dtype(), torch::kInt64);
  for (int i = 0; i < 1000; i += 37) {
    const auto row = encode(*tok, texts[static_cast<std::size_t>(i)]);
    EXPECT_TRUE(torch::equal(t[i], torch::tensor(row))) << "row " << i;
  }
  EXPECT_EQ(tok->tokenize({}).sizes(), (torch::IntArrayRef{0, 77}));
}

TEST(ClipTokenizer, ManyThreadsGiveTheSameIds) {
  const ClipBpeTokenizer tok;
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {"forest",
                                           "Stra\u00dfe",
                                           "\u5317\u4eac\u5e02",
                                           "\U0001f6f0\ufe0f",
                                           "caf\u00c3\u00a9",
                                           "&amp;amp;",
                                           "\uff26\uff35\uff2c\uff2c",
                                           "it\u2019s",
                                           std::string(300, 'q'),
                                           "\xff\xfe broken",
                                           "\u039f\u0394\u039f\u03a3"};
  std::vector<std::string> texts;
  for (int i = 0; i < 400; ++i) {
    std::string s;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 12); ++k) s += pieces[rng() % pieces.size()] + " ";
    texts.push_back(s);
  }
  std::vector<std::vector<std::int64_t>> expected;
  for (const auto& t : texts) expected.push_back(encode(tok, t));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round)
        for (std::size_t i = (t * 13) % texts.size(), k = 0; k < texts.size(); ++k, i = (i + 1) % texts.size())
          if (encode(tok, texts[i]) != expected[i]) ++mismatches;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(ClipTokenizer, PathologicalInputStaysFast) {
  const ClipBpeTokenizer tok;
  // One 200,000-letter word (open_clip's own BPE is quadratic in it) and 20,000 '&' runs.
  std::mt19937 rng(3);
  std::string word;
  for (int i = 0; i < 200000; ++i) word.push_back(static_cast<char>('a' + rng() % 26));
  const auto start = std::chrono::steady_clock::now();
  const auto ids = encode(tok, word);
  std::string amps;
  for (int i = 0; i < 20000; ++i) amps += "&amp;";
  encode(tok, amps);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 10.0);
  EXPECT_EQ(ids[0], ClipBpeTokenizer::kSot);
  EXPECT_EQ(ids[76], ClipBpeTokenizer::kEot);
  for (int i = 1; i < 76; ++i) EXPECT_GT(ids[i], 0);
}

TEST(ClipTokenizer, InvalidUtf8IsReadAsReplacementCharacters) {
  std::u32string decoded;
  EXPECT_FALSE(text::utf8_to_u32("a\xffz\xe2\x82", decoded));
  EXPECT_EQ(decoded, std::u32string(U"a\uFFFDz\uFFFD"));
  EXPECT_FALSE(text::utf8_to_u32("\xed\xa0\x80", decoded));  // an encoded surrogate: three bad bytes
  EXPECT_EQ(decoded, std::u32string(U"\uFFFD\uFFFD\uFFFD"));
  const ClipBpeTokenizer tok;
  EXPECT_EQ(encode(tok, "x\xffy"), encode(tok, "x\uFFFDy"));
}

TEST(Ftfy, FixesWhatOpenClipReliesOn) {
  const auto fixed = [](std::u32string_view in) {
    std::u32string s(in);
    text::ftfy_fix_text(s);
    return s;
  };
  EXPECT_EQ(fixed(U"sch\u00c3\u00b6n"), U"sch\u00f6n");                   // mojibake
  EXPECT_EQ(fixed(U"\u201cquoted\u201d it\u2019s"), U"\"quoted\" it's");  // uncurl_quotes
  EXPECT_EQ(fixed(U"\ufb01eld"), U"field");                               // ligatures
  EXPECT_EQ(fixed(U"\uff2c\uff2f\uff35\uff24\u3000x"), U"LOUD x");        // character width
  EXPECT_EQ(fixed(U"P&EACUTE;REZ &amp; co"), U"P\u00c9REZ & co");         // unescape_html
  EXPECT_EQ(fixed(U"<b>&amp;</b>"), U"<b>&amp;</b>");                     // '<': HTML left alone
  EXPECT_EQ(fixed(U"e\u0301"), U"\u00e9");                                // NFC
  EXPECT_EQ(fixed(U"a\r\nb\rc"), U"a\nb\nc");                             // line breaks
  EXPECT_EQ(fixed(U"\x1b[31mred\x1b[0m\x01"), U"red");                    // escapes, controls
}

TEST(TokenizerConfig, ReadsAndValidates) {
  const auto cfg = config::read<TokenizerConfig>(
      YAML::Load("{type: sentencepiece, sentencepiece_model: m.model, context_length: 64, clean: canonicalize, "
                 "sentencepiece_pad_id: 1}"));
  EXPECT_EQ(cfg.type, "sentencepiece");
  EXPECT_EQ(cfg.context_length, 64);
  EXPECT_EQ(cfg.sentencepiece_pad_id, 1);
  EXPECT_THROW(config::read<TokenizerConfig>(YAML::Load("{type: wordpiece}")), Error);
  EXPECT_THROW(config::read<TokenizerConfig>(YAML::Load("{clean: upper}")), Error);
  EXPECT_THROW(config::read<TokenizerConfig>(YAML::Load("{context_length: 1}")), Error);
  EXPECT_THROW(config::read<TokenizerConfig>(YAML::Load("{type: sentencepiece}")), Error);
  EXPECT_THROW(config::read<TokenizerConfig>(YAML::Load("{contxt_length: 77}")), Error);
}

TEST(TokenizerConfig, MissingSentencePieceModelIsAClearError) {
  TokenizerConfig cfg;
  cfg.type = "sentencepiece";
  cfg.sentencepiece_model = "/nonexistent/spm.model";
  try {
    make_tokenizer(cfg);
    FAIL() << "expected rsclip::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "/nonexistent/spm.model");
  }
}

}  // namespace
}  // namespace rsclip::data
