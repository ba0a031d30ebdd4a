// libFuzzer target: a torch.save zip archive from arbitrary bytes -- zip structure, version
// and byteorder records, storages, data.pkl -- then open_clip's state-dict unwrapping. Any
// outcome but success or rsclip::Error is a bug.
#include <cstddef>

#include <cstdint>
#include <string_view>

#include "core/base/error.h"
#include "core/io/checkpoint_reader.h"
#include "core/io/torch_file.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  at::zeros({1});
  c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const rsclip::TorchArchive archive(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    rsclip::state_dict_from_checkpoint(archive.load(), "fuzz");
  } catch (const rsclip::Error&) {
  }
  return 0;
}
