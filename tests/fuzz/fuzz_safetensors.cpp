// libFuzzer target: parse_safetensors on arbitrary bytes. Any outcome but success or
// rsclip::Error (a crash, a sanitizer report, another exception type) is a bug.
#include <cstddef>

#include <cstdint>
#include <string_view>

#include "core/base/error.h"
#include "core/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    rsclip::Metadata metadata;
    rsclip::parse_safetensors(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz", &metadata);
  } catch (const rsclip::Error&) {
  }
  return 0;
}
