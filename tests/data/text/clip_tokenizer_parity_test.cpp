// The CLIP tokenizer against open_clip 3.3.0 on the strings of
// scripts/reference/tokenizer_cases.py (about 19,000: captions, accents, CJK, emoji, curly
// quotes, full-width forms, HTML entities, long texts, whitespace runs, digits,
// contractions, mojibake, control characters, casing, random Unicode and every assigned
// code point of Unicode 14). Every cleaned string, every untruncated id sequence and every
// [N, 77] row must be identical; per-category identity rates are printed.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "core/io/safetensors.h"
#include "data/text/clip_bpe_tokenizer.h"
#include "data/text/text_clean.h"
#include "tests/reference/reference_cache.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {

namespace fs = std::filesystem;

struct Cases {
  StateDict tensors;
  Metadata meta;
  std::vector<std::string> categories;
  std::vector<std::string> texts;
  std::vector<std::int64_t> category;

  std::vector<std::string> strings(const std::string& name) const {
    const torch::Tensor bytes = tensors[name + "_bytes"].contiguous();
    const torch::Tensor offsets = tensors[name + "_offsets"].contiguous();
    const auto* b = reinterpret_cast<const char*>(bytes.data_ptr<std::uint8_t>());
    const auto* o = offsets.data_ptr<std::int64_t>();
    std::vector<std::string> out;
    for (std::int64_t i = 0; i + 1 < offsets.numel(); ++i) out.emplace_back(b + o[i], b + o[i + 1]);
    return out;
  }
};

// Generated once per build tree (about 20 s of CPU), see reference_cache.h.
const Cases& cases() {
  static const Cases c = [] {
    const auto file = rsclip::testing::cached_reference({"scripts/reference/tokenizer_cases.py"}, {}, ".safetensors");
    Cases out;
    out.tensors = load_safetensors(file, &out.meta);
    std::stringstream names(out.meta.at("categories"));
    for (std::string name; std::getline(names, name, ',');) out.categories.push_back(name);
    out.texts = out.strings("texts");
    const torch::Tensor cat = out.tensors["category"].contiguous();
    out.category.assign(cat.data_ptr<std::int64_t>(), cat.data_ptr<std::int64_t>() + cat.numel());
    return out;
  }();
  return c;
}

std::string escaped(const std::string& s, std::size_t limit = 160) {
  std::string out;
  for (unsigned char c : s.substr(0, limit)) {
    if (c == '\n')
      out += "\\n";
    else if (c < 0x20 || c == 0x7F)
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  return s.size() > limit ? out + "..." : out;
}

// Counts matches per category, prints the table and up to 8 mismatches; returns mismatches.
template <class Equal>
std::size_t report(const char* what, Equal&& equal_at) {
  const Cases& c = cases();
  std::map<std::int64_t, std::pair<std::size_t, std::size_t>> per;  // category -> (equal, total)
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < c.texts.size(); ++i) {
    std::string detail;
    const bool ok = equal_at(i, detail);
    auto& [eq, total] = per[c.category[i]];
    ++total;
    eq += ok;
    if (!ok && ++mismatches <= 8)
      ADD_FAILURE() << what << " differs for text " << i << " (" << c.categories[c.category[i]] << "): \""
                    << escaped(c.texts[i]) << "\"\n"
                    << detail;
  }
  std::printf("%s: %zu of %zu identical (%.4f %%)\n", what, c.texts.size() - mismatches, c.texts.size(),
              100.0 * (c.texts.size() - mismatches) / c.texts.size());
  for (const auto& [k, v] : per) std::printf("  %-18s %6zu / %6zu\n", c.categories[k].c_str(), v.first, v.second);
  return mismatches;
}

void check_clean(text::CleanMode mode, const std::string& name) {
  const auto expected = cases().strings("clean_" + name);
  std::string out;
  const std::size_t bad = report(("clean=" + name).c_str(), [&](std::size_t i, std::string& detail) {
    text::clean_text(cases().texts[i], mode, out);
    if (out == expected[i]) return true;
    detail = "  expected \"" + escaped(expected[i]) + "\"\n  got      \"" + escaped(out) + "\"";
    return false;
  });
  EXPECT_EQ(bad, 0u);
}

TEST(ClipTokenizerParity, CleanLowerEqualsOpenClip) { check_clean(text::CleanMode::lower, "lower"); }
TEST(ClipTokenizerParity, CleanWhitespaceEqualsOpenClip) { check_clean(text::CleanMode::whitespace, "whitespace"); }
TEST(ClipTokenizerParity, CleanCanonicalizeEqualsOpenClip) {
  check_clean(text::CleanMode::canonicalize, "canonicalize");
}

TEST(ClipTokenizerParity, EncodeIdsEqualOpenClip) {
  const Cases& c = cases();
  const torch::Tensor flat = c.tensors["ids_flat"].contiguous();
  const torch::Tensor offsets = c.tensors["ids_offsets"].contiguous();
  const auto* f = flat.data_ptr<std::int64_t>();
  const auto* o = offsets.data_ptr<std::int64_t>();
  const ClipBpeTokenizer tok;
  const std::size_t bad = report("SimpleTokenizer.encode ids", [&](std::size_t i, std::string& detail) {
    const std::vector<std::int64_t> expected(f + o[i], f + o[i + 1]);
    const auto got = tok.encode_ids(c.texts[i]);
    if (got == expected) return true;
    detail =
        fmt::format("  expected {} ids [{}]\n  got      {} ids [{}]", expected.size(),
                    fmt::join(expected.begin(), expected.begin() + std::min<std::size_t>(expected.size(), 24), ","),
                    got.size(), fmt::join(got.begin(), got.begin() + std::min<std::size_t>(got.size(), 24), ","));
    return false;
  });
  EXPECT_EQ(bad, 0u);
}

TEST(ClipTokenizerParity, TokenizeEqualsOpenClip) {
  const Cases& c = cases();
  const torch::Tensor expected = c.tensors["tokens"];
  ASSERT_EQ(expected.size(1), 77);
  auto tok = make_tokenizer(TokenizerConfig{});
  const torch::Tensor got = tok->tokenize(c.texts);
  ASSERT_EQ(got.sizes(), expected.sizes());
  const torch::Tensor row_equal = (got == expected).all(1).contiguous();
  const auto* eq = row_equal.data_ptr<bool>();
  const std::size_t bad = report("tokenize [N,77]", [&](std::size_t i, std::string& detail) {
    if (eq[i]) return true;
    const auto row = [](const torch::Tensor& t) {
      const torch::Tensor r = t.contiguous();
      return std::vector<std::int64_t>(r.data_ptr<std::int64_t>(), r.data_ptr<std::int64_t>() + r.numel());
    };
    detail =
        fmt::format("  expected [{}]\n  got      [{}]", fmt::join(row(expected[static_cast<std::int64_t>(i)]), ","),
                    fmt::join(row(got[static_cast<std::int64_t>(i)]), ","));
    return false;
  });
  EXPECT_EQ(bad, 0u);
  std::printf("versions: open_clip %s, ftfy %s, regex %s, Python unicodedata %s\n", c.meta.at("open_clip").c_str(),
              c.meta.at("ftfy").c_str(), c.meta.at("regex").c_str(), c.meta.at("unicodedata").c_str());
}

TEST(ClipTokenizerParity, CliTokenizeEqualsOpenClip) {
  // `rsclip tokenize` reads one text per line, so texts holding a line break are left out.
  const Cases& c = cases();
  const torch::Tensor expected = c.tensors["tokens"];
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
      {"tokenize", "--texts", (dir / "texts.txt").string(), "--out", (dir / "tokens.safetensors").string()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  Metadata meta;
  const StateDict out = load_safetensors(dir / "tokens.safetensors", &meta);
  const torch::Tensor got = out["tokens"];
  ASSERT_EQ(got.size(0), static_cast<std::int64_t>(rows.size()));
  EXPECT_TRUE(torch::equal(got, expected.index_select(0, torch::tensor(rows))));
  EXPECT_EQ(meta.at("tokenizer"), "clip");
  std::printf("rsclip tokenize: %zu texts, %s\n", rows.size(), result.output.c_str());
}

}  // namespace
}  // namespace rsclip::data
