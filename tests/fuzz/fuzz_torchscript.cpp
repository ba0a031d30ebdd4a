// libFuzzer target: a TorchScript archive (torch.jit.save; OpenAI's CLIP .pt files) from
// arbitrary bytes, read as rsclip reads one -- the zip, data.pkl's module tree, the class
// definitions in code/ -- without torch::jit::load. Any outcome but success or
// rsclip::Error is a bug.
#include <cstddef>

#include <cstdint>
#include <string_view>

#include "core/base/error.h"
#include "core/io/torch_file.h"
#include "core/io/torchscript.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  at::zeros({1});
  c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const rsclip::TorchArchive archive(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    if (archive.is_torchscript()) rsclip::read_torchscript_state_dict(archive);
  } catch (const rsclip::Error&) {
  }
  return 0;
}
