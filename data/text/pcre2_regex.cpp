#include "data/text/pcre2_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 0  // both widths, called by their suffixed names
#include <pcre2.h>

#include <memory>

#include <c10/util/Exception.h>

namespace rsclip::data {
namespace {

// Every pattern here reports only the whole match, so one small ovector serves them all.
constexpr std::uint32_t kOvectorPairs = 4;

std::uint32_t pcre2_options(std::uint32_t options) {
  std::uint32_t out = 0;
  if (options & kRegexUtf) out |= PCRE2_UTF;
  if (options & kRegexUcp) out |= PCRE2_UCP;
  if (options & kRegexCaseless) out |= PCRE2_CASELESS;
  return out;
}

void check_compiled(const void* code, int error, PCRE2_SIZE offset, const char* width) {
  if (code != nullptr) return;
  PCRE2_UCHAR8 message[256];
  pcre2_get_error_message_8(error, message, sizeof message);
  TORCH_CHECK(false, "PCRE2 (", width, ") rejected a built-in pattern at offset ", offset, ": ",
              reinterpret_cast<const char*>(message));
}

struct MatchData8Deleter {
  void operator()(pcre2_match_data_8* p) const { pcre2_match_data_free_8(p); }
};
struct MatchData32Deleter {
  void operator()(pcre2_match_data_32* p) const { pcre2_match_data_free_32(p); }
};

pcre2_match_data_8* thread_match_data8() {
  thread_local std::unique_ptr<pcre2_match_data_8, MatchData8Deleter> data(
      pcre2_match_data_create_8(kOvectorPairs, nullptr));
  TORCH_CHECK(data, "out of memory for PCRE2 match data");
  return data.get();
}

pcre2_match_data_32* thread_match_data32() {
  thread_local std::unique_ptr<pcre2_match_data_32, MatchData32Deleter> data(
      pcre2_match_data_create_32(kOvectorPairs, nullptr));
  TORCH_CHECK(data, "out of memory for PCRE2 match data");
  return data.get();
}

}  // namespace

Regex8::Regex8(std::string_view pattern, std::uint32_t options) : utf_((options & kRegexUtf) != 0) {
  pcre2_compile_context_8* ctx = pcre2_compile_context_create_8(nullptr);
  pcre2_set_newline_8(ctx, PCRE2_NEWLINE_LF);
  int error = 0;
  PCRE2_SIZE offset = 0;
  auto* code = pcre2_compile_8(reinterpret_cast<PCRE2_SPTR8>(pattern.data()), pattern.size(), pcre2_options(options),
                               &error, &offset, ctx);
  pcre2_compile_context_free_8(ctx);
  check_compiled(code, error, offset, "8-bit");
  code_ = code;
  pcre2_jit_compile_8(static_cast<pcre2_code_8*>(code_), PCRE2_JIT_COMPLETE);  // interpreter if JIT is unavailable
}

Regex8::~Regex8() { pcre2_code_free_8(static_cast<pcre2_code_8*>(code_)); }

bool Regex8::search(std::string_view subject, std::size_t start, Match& m) const {
  pcre2_match_data_8* md = thread_match_data8();
  const int rc = pcre2_match_8(static_cast<const pcre2_code_8*>(code_), reinterpret_cast<PCRE2_SPTR8>(subject.data()),
                               subject.size(), start, utf_ ? PCRE2_NO_UTF_CHECK : 0, md, nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  TORCH_CHECK(rc > 0, "PCRE2 match failed with code ", rc);
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer_8(md);
  m.begin = ov[0];
  m.end = ov[1];
  return true;
}

Regex32::Regex32(std::u32string_view pattern, std::uint32_t options) {
  pcre2_compile_context_32* ctx = pcre2_compile_context_create_32(nullptr);
  pcre2_set_newline_32(ctx, PCRE2_NEWLINE_LF);
  int error = 0;
  PCRE2_SIZE offset = 0;
  auto* code = pcre2_compile_32(reinterpret_cast<PCRE2_SPTR32>(pattern.data()), pattern.size(),
                                pcre2_options(options | kRegexUtf), &error, &offset, ctx);
  pcre2_compile_context_free_32(ctx);
  check_compiled(code, error, offset, "32-bit");
  code_ = code;
  pcre2_jit_compile_32(static_cast<pcre2_code_32*>(code_), PCRE2_JIT_COMPLETE);
}

Regex32::~Regex32() { pcre2_code_free_32(static_cast<pcre2_code_32*>(code_)); }

bool Regex32::search(std::u32string_view subject, std::size_t start, Match& m) const {
  pcre2_match_data_32* md = thread_match_data32();
  // Our UTF-32 strings hold only scalar values (no surrogates), so the check can be skipped.
  const int rc =
      pcre2_match_32(static_cast<const pcre2_code_32*>(code_), reinterpret_cast<PCRE2_SPTR32>(subject.data()),
                     subject.size(), start, PCRE2_NO_UTF_CHECK, md, nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  TORCH_CHECK(rc > 0, "PCRE2 match failed with code ", rc);
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer_32(md);
  m.begin = ov[0];
  m.end = ov[1];
  return true;
}

}  // namespace rsclip::data
