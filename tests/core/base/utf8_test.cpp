#include "core/base/utf8.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace rsclip {
namespace {

TEST(Utf8, Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xE4\xB8\xAD"));       // U+4E2D
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x9B\xB0"));   // U+1F6F0, 4 bytes
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));   // U+10FFFF, the last code point
  EXPECT_FALSE(is_valid_utf8("\xE4\xB8"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong, 3 bytes
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(
      is_valid_utf8("a\x80"
                    "b"));  // lone continuation byte
}

// Python: b"a\xe4\xb8b\xf0\x9f\x9b\xed\xa0\x80\xf4\x90".decode("utf-8", "replace")
//   == 'a\ufffdb\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd' (one U+FFFD per maximal subpart).
TEST(Utf8, MaximalSubparts) {
  const std::string s =
      "a\xe4\xb8"
      "b\xf0\x9f\x9b\xed\xa0\x80\xf4\x90";
  std::vector<char32_t> decoded;
  for (std::size_t i = 0; i < s.size();) {
    const Utf8Step step = decode_utf8_at(s, i);
    decoded.push_back(step.code_point);
    i += step.length;
  }
  const std::vector<char32_t> expected = {U'a', 0xFFFD, U'b', 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD};
  EXPECT_EQ(decoded, expected);
}

}  // namespace
}  // namespace rsclip
