// libFuzzer target: the restricted unpickler (core/io/pickle.h) on arbitrary bytes, then
// open_clip's state-dict unwrapping of whatever it produced; and the same bytes once more in
// TorchScript mode (module objects, torch.jit._pickle's list helpers). Storages are zero-filled and
// at most 1 MiB (the zip layer bounds them by the file size in real use). Any outcome but
// success or rsclip::Error is a bug.
#include <cstddef>

#include <cstdint>
#include <string_view>

#include "core/base/error.h"
#include "core/io/checkpoint_reader.h"
#include "core/io/pickle.h"

namespace {

c10::Storage zero_storage(const rsclip::pickle::StorageRef& ref) {
  const auto elem = static_cast<std::int64_t>(c10::elementSize(ref.dtype));
  if (ref.numel > (std::int64_t{1} << 20) / elem) throw rsclip::Error("fuzz storage too large");
  return at::zeros({ref.numel}, at::TensorOptions().dtype(ref.dtype)).storage();
}

}  // namespace

// Torch's one-time initialisation (allocators, type singletons) happens here, not inside a
// fuzzed input where libFuzzer's leak check would count it.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  at::zeros({1});
  c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const c10::IValue value = rsclip::pickle::unpickle(bytes, zero_storage, "fuzz");
    rsclip::state_dict_from_checkpoint(value, "fuzz");
  } catch (const rsclip::Error&) {
  }
  try {
    rsclip::pickle::UnpickleOptions script;
    script.script_objects = true;
    rsclip::pickle::unpickle(bytes, zero_storage, "fuzz", script);
  } catch (const rsclip::Error&) {
  }
  return 0;
}
