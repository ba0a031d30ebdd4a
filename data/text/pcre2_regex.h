// RAII wrappers around PCRE2 for the text cleaners and the CLIP pre-tokeniser: a pattern
// is compiled (and JIT-compiled) once and then matched from any number of threads; the
// match data each search needs lives in one thread_local block per code-unit width, so a
// search allocates nothing.
//
//  - Regex8: 8-bit code units. With PCRE2_UTF it matches UTF-8 text by code point; without,
//    it matches raw bytes (ftfy's bytes patterns).
//  - Regex32: UTF-32 text (std::u32string), always with PCRE2_UTF, the code-point view
//    Python's str patterns have.
//
// Patterns are compiled with newline = LF only, which is where Python's `.` and `$` stop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rsclip::data {

struct Match {
  std::size_t begin = 0, end = 0;
};

// Compile options (a subset of PCRE2's, named here so callers need not include pcre2.h).
enum RegexOptions : std::uint32_t {
  kRegexUtf = 1,       // PCRE2_UTF: code points, not code units
  kRegexUcp = 2,       // PCRE2_UCP: \d \w \s and POSIX classes use Unicode properties
  kRegexCaseless = 4,  // PCRE2_CASELESS
};

class Regex8 {
 public:
  Regex8(std::string_view pattern, std::uint32_t options);  // RegexOptions
  ~Regex8();
  Regex8(const Regex8&) = delete;
  Regex8& operator=(const Regex8&) = delete;

  // The leftmost match starting at or after `start`. With kRegexUtf the subject must be
  // valid UTF-8 (it is not re-checked).
  bool search(std::string_view subject, std::size_t start, Match& m) const;

 private:
  void* code_ = nullptr;  // pcre2_code_8
  bool utf_ = false;
};

class Regex32 {
 public:
  Regex32(std::u32string_view pattern, std::uint32_t options = 0);  // kRegexUtf is implied
  ~Regex32();
  Regex32(const Regex32&) = delete;
  Regex32& operator=(const Regex32&) = delete;

  bool search(std::u32string_view subject, std::size_t start, Match& m) const;
  bool contains(std::u32string_view subject) const {
    Match m;
    return search(subject, 0, m);
  }

 private:
  void* code_ = nullptr;  // pcre2_code_32
};

}  // namespace rsclip::data
