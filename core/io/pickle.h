// The pickle part of torch.save files (`<archive>/data.pkl`), read and written without
// Python.
//
// Reading is a restricted unpickler in the spirit of torch.load(weights_only=True)
// (torch/_weights_only_unpickler.py): protocol-2 opcodes only (PROTO GLOBAL REDUCE BUILD
// NEWOBJ MARK TUPLE TUPLE1-3 EMPTY_TUPLE EMPTY_LIST EMPTY_DICT APPEND(S) SETITEM(S) BININT
// BININT1 BININT2 LONG1 BINFLOAT BINUNICODE SHORT_BINSTRING BINPERSID BINGET LONG_BINGET
// BINPUT LONG_BINPUT NONE NEWTRUE NEWFALSE STOP) and only the globals a state dict or a
// training checkpoint needs:
//   collections.OrderedDict                      -> dict (insertion order kept)
//   torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter /
//   _rebuild_parameter_with_state, torch._tensor._rebuild_from_type_v2 (plain Tensor or
//   Parameter only)                              -> tensor (never requires grad)
//   torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage
//                                                -> the dtype in a persistent id
//   torch.Size -> tuple of ints; torch.device -> Device; torch.<dtype> -> int ScalarType
// Anything else (os.system, builtins.eval, ...) is an rsclip::Error naming the global.
//
// The result is a c10::IValue tree: GenericDict (any key/value types, insertion order),
// GenericList, Tuple, int, double, string, bool, None, Device, Tensor. Tensors reference
// storages supplied by the caller's StorageLoader, so two tensors on one storage (views,
// tied weights) share it exactly as after torch.load.
//
// Untrusted input: every length is checked against the bytes left, memo indices and stack
// depth are checked, containers nest at most kMaxDepth deep and cannot contain themselves,
// tensor offset/size/stride are checked against the storage, and no allocation is sized
// by a declared length that the input does not back with bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <torch/torch.h>

#include "core/io/state_dict.h"

namespace rsclip::pickle {

// Deepest container nesting accepted (a state dict inside a checkpoint is depth 3).
inline constexpr std::size_t kMaxDepth = 256;
// Largest data.pkl accepted (a 10,000-tensor state dict pickles to about 1 MB).
inline constexpr std::size_t kMaxPickleBytes = std::size_t{256} << 20;

// A persistent id ('storage', torch.FloatStorage, key, location, numel) as torch.save
// writes it for every storage.
struct StorageRef {
  std::string key;  // the record `<archive>/data/<key>`
  c10::ScalarType dtype;
  std::string location;  // "cpu", "cuda:0", ... (everything is loaded to the CPU)
  std::int64_t numel;    // elements of `dtype`
};

// Returns the storage for `ref`, holding exactly numel * elementSize(dtype) bytes, or
// throws rsclip::Error. Called once per BINPERSID; caching per key is the loader's job.
using StorageLoader = std::function<c10::Storage(const StorageRef& ref)>;

struct UnpickleOptions {
  // Also accept what a TorchScript archive's data.pkl holds beyond tensors: module objects
  // (GLOBAL `__torch__.* Class`, NEWOBJ with no arguments, BUILD with an attribute dict)
  // and torch.jit._pickle's typed-list helpers. No class is ever executed: an object becomes
  // the dict {kScriptClassKey: "__torch__.a.b.Class", kScriptStateKey: {attribute: value}}.
  bool script_objects = false;
};
inline constexpr const char* kScriptClassKey = "__torchscript_class__";
inline constexpr const char* kScriptStateKey = "__torchscript_state__";

// Unpickles `bytes`; `where` labels errors (e.g. "model.pt: archive/data.pkl").
c10::IValue unpickle(std::string_view bytes, const StorageLoader& load_storage, const std::string& where,
                     UnpickleOptions options = {});

// What torch.save would write for a value: the pickle and, at index i, the storage that
// goes into the record `data/<i>`.
struct Pickled {
  std::string data;
  std::vector<c10::Storage> storages;
};

// Pickles a state dict as torch.save(OrderedDict(...)) does, byte for byte: the same
// opcodes, memo numbering and storage keys (one per distinct storage, in first-use
// order), so torch.load(weights_only=True) reads it. Device tensors are copied to the CPU.
Pickled pickle_state_dict(const StateDict& state_dict);

// Pickles a general value (trainer state): dicts as plain dicts, lists, tuples, int,
// double, string, bool, None, tensors. rsclip::Error for anything else.
Pickled pickle_value(const c10::IValue& value);

// "torch.FloatStorage" <-> kFloat, for the storage dtypes torch.save writes.
const char* storage_class_name(c10::ScalarType dtype);

}  // namespace rsclip::pickle
