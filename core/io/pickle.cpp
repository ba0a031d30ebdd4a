// Restricted unpickler (see pickle.h). Mirrors torch/_weights_only_unpickler.py of torch
// 2.11: the same opcode set and the same stack/mark discipline (MARK opens a fresh stack
// frame; popping below it is an underflow), with the allowlist cut down to what state dicts
// and training checkpoints use.
//
// Values are first built as a small tree of our own (Value/Node) so that classes, storages
// and tuples of them can live on the stack, and so that every container records its depth
// and whether it has been put inside another container ("sealed"). A sealed container may
// not change any more, and nothing may be put into itself: pickles of state dicts always
// finish a container before nesting it, and the rule rules out cycles and keeps depths
// exact. The tree becomes an IValue at STOP.
#include "core/io/pickle.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/base/error.h"
#include "core/base/utf8.h"

namespace rsclip::pickle {
namespace {

constexpr const char* kNotStateDictHint = "not a plain state dict; re-save it with torch.save(model.state_dict())";
constexpr const char* kCorruptHint = "the file is corrupt or was not written by torch.save";
constexpr std::size_t kMaxTensorDims = 64;

enum class Global : std::uint8_t {
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildTensor,
  kRebuildParameter,
  kRebuildParameterWithState,
  kRebuildFromTypeV2,
  kSize,
  kDevice,
  kTensorClass,
  kParameterClass,
  kStorageClass,  // carries a dtype
  kDtype,         // carries a dtype
  // TorchScript archives only (UnpickleOptions::script_objects):
  kScriptClass,     // a __torch__.* class; its qualified name in Node::str
  kJitListBuilder,  // torch.jit._pickle.build_{int,double,bool,tensor,generic}list(list) -> list
  kRestoreTypeTag,  // torch.jit._pickle.restore_type_tag(value, type) -> value
};

struct GlobalName {
  const char* module;
  const char* name;
  Global global;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
};

constexpr GlobalName kGlobals[] = {
    {"collections", "OrderedDict", Global::kOrderedDict},
    {"torch._utils", "_rebuild_tensor_v2", Global::kRebuildTensorV2},
    {"torch._utils", "_rebuild_tensor", Global::kRebuildTensor},
    {"torch._utils", "_rebuild_parameter", Global::kRebuildParameter},
    {"torch._utils", "_rebuild_parameter_with_state", Global::kRebuildParameterWithState},
    {"torch._tensor", "_rebuild_from_type_v2", Global::kRebuildFromTypeV2},
    {"torch", "Size", Global::kSize},
    {"torch", "device", Global::kDevice},
    {"torch", "Tensor", Global::kTensorClass},
    {"torch.nn.parameter", "Parameter", Global::kParameterClass},
    {"torch", "FloatStorage", Global::kStorageClass, c10::kFloat},
    {"torch", "DoubleStorage", Global::kStorageClass, c10::kDouble},
    {"torch", "HalfStorage", Global::kStorageClass, c10::kHalf},
    {"torch", "BFloat16Storage", Global::kStorageClass, c10::kBFloat16},
    {"torch", "LongStorage", Global::kStorageClass, c10::kLong},
    {"torch", "IntStorage", Global::kStorageClass, c10::kInt},
    {"torch", "ShortStorage", Global::kStorageClass, c10::kShort},
    {"torch", "CharStorage", Global::kStorageClass, c10::kChar},
    {"torch", "ByteStorage", Global::kStorageClass, c10::kByte},
    {"torch", "BoolStorage", Global::kStorageClass, c10::kBool},
    {"torch", "ComplexFloatStorage", Global::kStorageClass, c10::kComplexFloat},
    {"torch", "ComplexDoubleStorage", Global::kStorageClass, c10::kComplexDouble},
    // A dtype pickles as its name in the torch module (torch.dtype.__reduce__).
    {"torch", "float32", Global::kDtype, c10::kFloat},
    {"torch", "float64", Global::kDtype, c10::kDouble},
    {"torch", "float16", Global::kDtype, c10::kHalf},
    {"torch", "bfloat16", Global::kDtype, c10::kBFloat16},
    {"torch", "int64", Global::kDtype, c10::kLong},
    {"torch", "int32", Global::kDtype, c10::kInt},
    {"torch", "int16", Global::kDtype, c10::kShort},
    {"torch", "int8", Global::kDtype, c10::kChar},
    {"torch", "uint8", Global::kDtype, c10::kByte},
    {"torch", "bool", Global::kDtype, c10::kBool},
    {"torch", "complex64", Global::kDtype, c10::kComplexFloat},
    {"torch", "complex128", Global::kDtype, c10::kComplexDouble},
};

enum class Kind : std::uint8_t {
  kNone,
  kBool,
  kInt,
  kFloat,
  kStr,
  kTensor,
  kDevice,
  kList,
  kDict,
  kTuple,
  kGlobal,
  kStorage,
  kObject,  // a TorchScript object: class name in Node::str, its state (once BUILT) in items[0]
};

struct Node;

struct Value {
  Kind kind = Kind::kNone;
  std::int64_t i = 0;  // bool, int
  double f = 0;
  std::shared_ptr<Node> node;  // everything else
};

using DictKey = std::variant<bool, std::int64_t, std::string>;

struct Node {
  explicit Node(Kind k) : kind(k) {}
  Kind kind;
  bool sealed = false;
  std::size_t depth = 1;
  std::string str;                      // kStr
  at::Tensor tensor;                    // kTensor
  c10::Device device{c10::kCPU};        // kDevice
  std::vector<Value> items;             // kList, kTuple; kDict: key, value, key, value, ...
  std::map<DictKey, std::size_t> keys;  // kDict: key -> index of its value in items
  Global global{};                      // kGlobal
  c10::ScalarType dtype{};              // kGlobal (storage class / dtype), kStorage
  c10::Storage storage;                 // kStorage
};

Value make(Kind kind) {
  Value v;
  v.kind = kind;
  v.node = std::make_shared<Node>(kind);
  return v;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kStr: return "str";
    case Kind::kTensor: return "tensor";
    case Kind::kDevice: return "device";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kTuple: return "tuple";
    case Kind::kGlobal: return "class or function";
    case Kind::kStorage: return "storage";
    case Kind::kObject: return "TorchScript object";
  }
  return "?";
}

// A printable, bounded rendering of attacker-controlled names for error messages.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 120)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", u);
  }
  if (s.size() > 120) out += "...";
  return out;
}

class Unpickler {
 public:
  Unpickler(std::string_view bytes, const StorageLoader& loader, const std::string& where, UnpickleOptions options)
      : in_(bytes), loader_(loader), where_(where), options_(options) {}

  c10::IValue run();

 private:
  [[noreturn]] void fail(const std::string& message, const char* hint = kCorruptHint) const {
    throw Error(fmt::format("{} (pickle byte {})", message, op_pos_), where_, hint);
  }

  // --- input ---
  std::string_view take(std::uint64_t n) {
    if (n > in_.size() - pos_) fail(fmt::format("needs {} bytes but only {} remain", n, in_.size() - pos_));
    const auto s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::uint64_t le(int n) {
    const auto s = take(n);
    std::uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(s[k]);
    return v;
  }
  std::string_view line() {
    const auto nl = in_.find('\n', pos_);
    if (nl == std::string_view::npos) fail("GLOBAL name is not terminated");
    const auto s = in_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }

  // --- stack (Python's stack/metastack: MARK starts a new frame) ---
  std::size_t frame_size() const { return stack_.size() - (marks_.empty() ? 0 : marks_.back()); }
  Value pop() {
    if (frame_size() == 0) fail("pickle stack underflow");
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Value& top() {
    if (frame_size() == 0) fail("pickle stack underflow");
    return stack_.back();
  }
  std::vector<Value> pop_mark() {
    if (marks_.empty()) fail("no MARK on the pickle stack");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }
  void push(Value v) { stack_.push_back(std::move(v)); }

  // --- containers ---
  std::size_t depth_of(const Value& v) const { return v.node ? v.node->depth : 0; }
  void nest(Node& parent, const Value& child) {
    if (child.kind == Kind::kList || child.kind == Kind::kDict || child.kind == Kind::kObject) {
      if (child.node.get() == &parent) fail("a pickled container contains itself", kNotStateDictHint);
      child.node->sealed = true;
    }
    parent.depth = std::max(parent.depth, depth_of(child) + 1);
    if (parent.depth > kMaxDepth) fail(fmt::format("containers nested deeper than {}", kMaxDepth));
  }
  Node& mutable_container(Value& target, Kind kind, const char* op) {
    if (target.kind != kind) fail(fmt::format("{} applied to a {}", op, kind_name(target.kind)), kNotStateDictHint);
    if (target.node->sealed) fail(fmt::format("{} changes a container after it was nested", op), kNotStateDictHint);
    return *target.node;
  }
  void append(Value& list, Value item) {
    Node& n = mutable_container(list, Kind::kList, "APPEND");
    nest(n, item);
    n.items.push_back(std::move(item));
  }
  void set_item(Value& dict, Value key, Value value);
  Value tuple(std::vector<Value> items) {
    Value t = make(Kind::kTuple);
    for (const auto& item : items) nest(*t.node, item);
    t.node->items = std::move(items);
    return t;
  }

  // --- opcodes with torch semantics ---
  void op_global();
  std::optional<Value> script_global(std::string_view module, std::string_view name);
  void op_reduce();
  void op_persistent_id();
  void op_newobj();
  void op_build();
  void op_tuple_n(std::size_t n);
  void op_appends();
  void op_setitem();
  void op_setitems();
  void op_long1();
  void op_binfloat();
  void op_string(int length_bytes);
  void op_get(int index_bytes);
  void op_put(int index_bytes);
  Value call(Global fn, const Value& args);
  Value rebuild_tensor(const std::vector<Value>& args);
  std::vector<std::int64_t> int_tuple(const Value& v, const char* what);

  c10::IValue to_ivalue(const Value& v, std::size_t depth);

  std::string_view in_;
  std::size_t pos_ = 0, op_pos_ = 0;
  const StorageLoader& loader_;
  const std::string& where_;
  const UnpickleOptions options_;
  std::vector<Value> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint32_t, Value> memo_;
  std::unordered_map<const Node*, c10::IValue> converted_;
};

void Unpickler::set_item(Value& dict, Value key, Value value) {
  Node& n = mutable_container(dict, Kind::kDict, "SETITEM");
  DictKey k;
  switch (key.kind) {
    case Kind::kBool: k = key.i != 0; break;
    case Kind::kInt: k = key.i; break;
    case Kind::kStr: k = key.node->str; break;
    default: fail(fmt::format("dict key of type {} (only str, int and bool keys are read)", kind_name(key.kind)));
  }
  nest(n, value);
  // Python dict semantics: a repeated key keeps its first position and takes the new value.
  const auto [it, inserted] = n.keys.emplace(std::move(k), n.items.size() + 1);
  if (inserted) {
    n.items.push_back(std::move(key));
    n.items.push_back(std::move(value));
  } else {
    n.items[it->second] = std::move(value);
  }
}

void Unpickler::op_global() {
  const std::string_view module = line();
  const std::string_view name = line();
  for (const auto& g : kGlobals) {
    if (module == g.module && name == g.name) {
      Value v = make(Kind::kGlobal);
      v.node->global = g.global;
      v.node->dtype = g.dtype;
      push(std::move(v));
      return;
    }
  }
  if (options_.script_objects) {
    if (const auto g = script_global(module, name)) {
      push(std::move(*g));
      return;
    }
  }
  fail(fmt::format("pickle global '{}.{}' is not allowed", printable(module), printable(name)), kNotStateDictHint);
}

// The globals of a TorchScript archive's data.pkl beyond a state dict's: module classes
// (`__torch__.a.b Class`, plain identifiers only; never called, only instantiated as
// attribute holders) and the typed-list helpers of torch/jit/_pickle.py.
std::optional<Value> Unpickler::script_global(std::string_view module, std::string_view name) {
  const auto identifier = [](std::string_view s) {
    return !s.empty() && s.size() <= 200 && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
  };
  Value v = make(Kind::kGlobal);
  if (module == "torch.jit._pickle") {
    if (name == "restore_type_tag") {
      v.node->global = Global::kRestoreTypeTag;
      return v;
    }
    for (const char* b :
         {"build_intlist", "build_doublelist", "build_boollist", "build_tensorlist", "build_genericlist"}) {
      if (name == b) {
        v.node->global = Global::kJitListBuilder;
        return v;
      }
    }
    return std::nullopt;
  }
  if (module != "__torch__" && module.rfind("__torch__.", 0) != 0) return std::nullopt;
  for (std::size_t begin = 0, dot; begin <= module.size(); begin = dot + 1) {
    dot = std::min(module.find('.', begin), module.size());
    if (!identifier(module.substr(begin, dot - begin))) return std::nullopt;
  }
  if (!identifier(name)) return std::nullopt;
  v.node->global = Global::kScriptClass;
  v.node->str = std::string(module) + "." + std::string(name);
  return v;
}

void Unpickler::op_persistent_id() {
  const Value pid = pop();
  // ('storage', torch.FloatStorage, key, location, numel): torch.serialization's
  // persistent_id for every (typed) storage.
  if (pid.kind != Kind::kTuple || pid.node->items.size() != 5) {
    fail("persistent id is not a ('storage', class, key, location, numel) tuple", kNotStateDictHint);
  }
  const auto& f = pid.node->items;
  if (f[0].kind != Kind::kStr || f[0].node->str != "storage") fail("persistent id is not a storage", kNotStateDictHint);
  if (f[1].kind != Kind::kGlobal || f[1].node->global != Global::kStorageClass)
    fail("storage type is not a storage class");
  if (f[2].kind != Kind::kStr || f[3].kind != Kind::kStr || f[4].kind != Kind::kInt || f[4].i < 0) {
    fail("storage key, location or size has the wrong type");
  }
  StorageRef ref{f[2].node->str, f[1].node->dtype, f[3].node->str, f[4].i};
  const auto elem = static_cast<std::int64_t>(c10::elementSize(ref.dtype));
  if (ref.numel > INT64_MAX / elem) fail(fmt::format("storage '{}' size overflows", printable(ref.key)));
  Value s = make(Kind::kStorage);
  s.node->dtype = ref.dtype;
  s.node->storage = loader_(ref);
  if (static_cast<std::int64_t>(s.node->storage.nbytes()) != ref.numel * elem) {
    fail(fmt::format("storage '{}' has {} bytes, expected {}", printable(ref.key), s.node->storage.nbytes(),
                     ref.numel * elem));
  }
  push(std::move(s));
}

std::vector<std::int64_t> Unpickler::int_tuple(const Value& v, const char* what) {
  if (v.kind != Kind::kTuple && v.kind != Kind::kList)
    fail(fmt::format("tensor {} is a {}, not a tuple", what, kind_name(v.kind)));
  if (v.node->items.size() > kMaxTensorDims) fail(fmt::format("tensor has more than {} dimensions", kMaxTensorDims));
  std::vector<std::int64_t> out;
  for (const auto& item : v.node->items) {
    if (item.kind != Kind::kInt) fail(fmt::format("tensor {} holds a {}", what, kind_name(item.kind)));
    out.push_back(item.i);
  }
  return out;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, ...): the view is checked to lie
// inside the storage before the tensor exists (torch.load relies on set_'s own checks).
Value Unpickler::rebuild_tensor(const std::vector<Value>& args) {
  if (args[0].kind != Kind::kStorage) fail("tensor rebuilt from something that is not a storage", kNotStateDictHint);
  if (args[1].kind != Kind::kInt || args[1].i < 0) fail("tensor storage offset is not a non-negative int");
  const auto sizes = int_tuple(args[2], "size");
  const auto strides = int_tuple(args[3], "stride");
  if (sizes.size() != strides.size()) fail("tensor size and stride have different lengths");
  const Node& st = *args[0].node;
  const std::int64_t offset = args[1].i;
  const auto capacity = static_cast<std::int64_t>(st.storage.nbytes() / c10::elementSize(st.dtype));
  // Sizes multiply without overflow even ignoring zeros (c10 computes numel that way), and
  // the furthest element offset + sum((size-1)*stride) stays inside the storage.
  std::int64_t product = 1, last = offset;
  bool empty = false;
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0 || strides[d] < 0) fail("negative tensor size or stride");
    if (sizes[d] == 0) {
      empty = true;
      continue;
    }
    std::int64_t span = 0;
    if (__builtin_mul_overflow(product, sizes[d], &product) ||
        __builtin_mul_overflow(sizes[d] - 1, strides[d], &span) || __builtin_add_overflow(last, span, &last)) {
      fail("tensor size overflows");
    }
  }
  if (empty ? offset > capacity : last >= capacity) {
    fail(fmt::format("tensor view (offset {}, size {}, stride {}) exceeds its storage of {} elements", offset,
                     fmt::join(sizes, "x"), fmt::join(strides, ","), capacity));
  }
  Value t = make(Kind::kTensor);
  t.node->tensor = at::empty({0}, at::TensorOptions().dtype(st.dtype)).set_(st.storage, offset, sizes, strides);
  return t;
}

// REDUCE/NEWOBJ targets: only the constructors and rebuild functions torch.save emits.
Value Unpickler::call(Global fn, const Value& args_value) {
  if (args_value.kind != Kind::kTuple) fail("call arguments are not a tuple");
  const auto& args = args_value.node->items;
  auto want = [&](std::size_t lo, std::size_t hi, const char* name) {
    if (args.size() < lo || args.size() > hi) fail(fmt::format("{} called with {} arguments", name, args.size()));
  };
  switch (fn) {
    case Global::kOrderedDict: want(0, 0, "OrderedDict"); return make(Kind::kDict);
    case Global::kRebuildTensorV2:  // (storage, offset, size, stride, requires_grad, hooks[, metadata])
      want(6, 7, "_rebuild_tensor_v2");
      return rebuild_tensor(args);
    case Global::kRebuildTensor:  // (storage, offset, size, stride)
      want(4, 4, "_rebuild_tensor");
      return rebuild_tensor(args);
    case Global::kRebuildParameter:           // (data, requires_grad, hooks)
    case Global::kRebuildParameterWithState:  // (data, requires_grad, hooks, state)
      want(fn == Global::kRebuildParameter ? 3 : 4, fn == Global::kRebuildParameter ? 3 : 4, "_rebuild_parameter");
      if (args[0].kind != Kind::kTensor) fail("parameter data is not a tensor");
      return args[0];
    case Global::kRebuildFromTypeV2: {  // (func, type, args, state): a Tensor/Parameter with Python state
      want(4, 4, "_rebuild_from_type_v2");
      if (args[0].kind != Kind::kGlobal || args[1].kind != Kind::kGlobal ||
          (args[1].node->global != Global::kTensorClass && args[1].node->global != Global::kParameterClass)) {
        fail("_rebuild_from_type_v2 of something other than a plain tensor", kNotStateDictHint);
      }
      const Global inner = args[0].node->global;
      if (inner != Global::kRebuildTensorV2 && inner != Global::kRebuildTensor && inner != Global::kRebuildParameter &&
          inner != Global::kRebuildParameterWithState) {
        fail("_rebuild_from_type_v2 with an unexpected rebuild function", kNotStateDictHint);
      }
      return call(inner, args[2]);
    }
    case Global::kSize: {  // torch.Size((d0, d1, ...))
      want(1, 1, "torch.Size");
      std::vector<Value> dims;
      for (auto d : int_tuple(args[0], "Size")) dims.push_back(Value{Kind::kInt, d, 0, nullptr});
      return tuple(std::move(dims));
    }
    case Global::kDevice: {  // torch.device('cuda') / torch.device('cuda', 0)
      want(1, 2, "torch.device");
      if (args[0].kind != Kind::kStr || (args.size() == 2 && args[1].kind != Kind::kInt))
        fail("bad torch.device arguments");
      const std::string& type = args[0].node->str;
      if (type != "cpu" && type.rfind("cuda", 0) != 0)
        fail("torch.device of type '" + printable(type) + "'", kNotStateDictHint);
      Value d = make(Kind::kDevice);
      std::int64_t index = args.size() == 2 ? args[1].i : -1;
      std::string base = type;
      if (const auto colon = type.find(':'); colon != std::string::npos) {
        base = type.substr(0, colon);
        const std::string digits = type.substr(colon + 1);
        if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos) {
          fail("bad device string '" + printable(type) + "'");
        }
        index = std::stoll(digits);
      }
      if (base != "cpu" && base != "cuda") fail("bad device string '" + printable(type) + "'");
      if (index < -1 || index > 127 || (base == "cpu" && index > 0)) fail("bad device index");
      d.node->device = c10::Device(base == "cpu" ? c10::kCPU : c10::kCUDA, static_cast<c10::DeviceIndex>(index));
      return d;
    }
    case Global::kJitListBuilder:  // (list): the typed list, as a list
      want(1, 1, "torch.jit._pickle.build_*list");
      if (args[0].kind != Kind::kList) fail("build_*list of something other than a list");
      return args[0];
    case Global::kRestoreTypeTag:  // (value, type string): the value
      want(2, 2, "torch.jit._pickle.restore_type_tag");
      if (args[1].kind != Kind::kStr) fail("restore_type_tag without a type string");
      return args[0];
    default: fail("pickle calls a class or function that cannot be called", kNotStateDictHint);
  }
}

void Unpickler::op_reduce() {
  Value args = pop();
  Value& fn = top();
  if (fn.kind != Kind::kGlobal) fail(fmt::format("REDUCE calls a {}", kind_name(fn.kind)), kNotStateDictHint);
  fn = call(fn.node->global, args);
}

c10::IValue Unpickler::to_ivalue(const Value& v, std::size_t depth) {
  if (depth > kMaxDepth) fail("containers nested too deeply");
  switch (v.kind) {
    case Kind::kNone: return c10::IValue();
    case Kind::kBool: return c10::IValue(v.i != 0);
    case Kind::kInt: return c10::IValue(v.i);
    case Kind::kFloat: return c10::IValue(v.f);
    case Kind::kStr: return c10::IValue(v.node->str);
    case Kind::kTensor: return c10::IValue(v.node->tensor);
    case Kind::kDevice: return c10::IValue(v.node->device);
    case Kind::kGlobal:
      if (v.node->global == Global::kDtype) return c10::IValue(static_cast<std::int64_t>(v.node->dtype));
      fail("a torch class or function is stored as data", kNotStateDictHint);
    case Kind::kStorage: fail("a bare storage is stored as data (rsclip reads tensors)", kNotStateDictHint);
    default: break;
  }
  // Containers: converted once each, so shared sub-objects stay shared (a DAG stays a DAG).
  if (auto it = converted_.find(v.node.get()); it != converted_.end()) return it->second;
  const auto& items = v.node->items;
  c10::IValue out;
  if (v.kind == Kind::kObject) {
    c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
    dict.insert(std::string(kScriptClassKey), c10::IValue(v.node->str));
    dict.insert(std::string(kScriptStateKey), items.empty() ? c10::IValue() : to_ivalue(items[0], depth + 1));
    out = c10::IValue(std::move(dict));
  } else if (v.kind == Kind::kList) {
    c10::impl::GenericList list(c10::AnyType::get());
    list.reserve(items.size());
    for (const auto& item : items) list.push_back(to_ivalue(item, depth + 1));
    out = c10::IValue(std::move(list));
  } else if (v.kind == Kind::kTuple) {
    std::vector<c10::IValue> elems;
    elems.reserve(items.size());
    for (const auto& item : items) elems.push_back(to_ivalue(item, depth + 1));
    out = c10::IValue(c10::ivalue::Tuple::create(std::move(elems)));
  } else {
    c10::impl::GenericDict dict(c10::AnyType::get(), c10::AnyType::get());
    dict.reserve(items.size() / 2);
    for (std::size_t k = 0; k + 1 < items.size(); k += 2) {
      dict.insert(to_ivalue(items[k], depth + 1), to_ivalue(items[k + 1], depth + 1));
    }
    out = c10::IValue(std::move(dict));
  }
  converted_.emplace(v.node.get(), out);
  return out;
}

// cls args: cls.__new__(cls, *args): OrderedDict(), or an empty TorchScript object.
void Unpickler::op_newobj() {
  Value args = pop();
  Value cls = pop();
  if (cls.kind == Kind::kGlobal && cls.node->global == Global::kScriptClass) {
    if (args.kind != Kind::kTuple || !args.node->items.empty()) fail("TorchScript object created with arguments");
    Value object = make(Kind::kObject);
    object.node->str = cls.node->str;
    push(std::move(object));
    return;
  }
  if (cls.kind != Kind::kGlobal || cls.node->global != Global::kOrderedDict) {
    fail("NEWOBJ of something other than OrderedDict", kNotStateDictHint);
  }
  push(call(Global::kOrderedDict, args));
}

// An OrderedDict's __dict__ (its _metadata), which we drop, or a TorchScript object's
// attributes (a dict, set once).
void Unpickler::op_build() {
  Value state = pop();
  Value& target = top();
  if (target.kind == Kind::kObject) {
    if (!target.node->items.empty() || target.node->sealed) fail("BUILD sets a TorchScript object's state twice");
    if (state.kind != Kind::kDict) fail(fmt::format("TorchScript object state is a {}", kind_name(state.kind)));
    nest(*target.node, state);
    target.node->items.push_back(std::move(state));
    return;
  }
  if (target.kind != Kind::kDict) fail(fmt::format("BUILD on a {}", kind_name(target.kind)), kNotStateDictHint);
}

void Unpickler::op_tuple_n(std::size_t n) {
  if (frame_size() < n) fail("pickle stack underflow");
  std::vector<Value> items(std::make_move_iterator(stack_.end() - static_cast<std::ptrdiff_t>(n)),
                           std::make_move_iterator(stack_.end()));
  stack_.resize(stack_.size() - n);
  push(tuple(std::move(items)));
}

void Unpickler::op_appends() {
  auto items = pop_mark();
  Value& list = top();
  for (auto& item : items) append(list, std::move(item));
}

void Unpickler::op_setitem() {
  Value value = pop();
  Value key = pop();
  set_item(top(), std::move(key), std::move(value));
}

void Unpickler::op_setitems() {
  auto items = pop_mark();
  if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
  Value& dict = top();
  for (std::size_t k = 0; k < items.size(); k += 2) set_item(dict, std::move(items[k]), std::move(items[k + 1]));
}

void Unpickler::op_long1() {  // n bytes of little-endian two's complement
  const auto n = le(1);
  if (n > 8) fail(fmt::format("integer of {} bytes does not fit in 64 bits", n));
  const auto raw = le(static_cast<int>(n));
  std::int64_t v = static_cast<std::int64_t>(raw);
  if (n > 0 && n < 8 && (raw >> (8 * n - 1)) & 1) v = static_cast<std::int64_t>(raw | (~std::uint64_t{0} << (8 * n)));
  push(Value{Kind::kInt, v, 0, nullptr});
}

void Unpickler::op_binfloat() {  // big-endian IEEE double
  const auto s = take(8);
  std::uint64_t bits = 0;
  for (char c : s) bits = (bits << 8) | static_cast<unsigned char>(c);
  double d;
  std::memcpy(&d, &bits, sizeof d);
  push(Value{Kind::kFloat, 0, d, nullptr});
}

// BINUNICODE (u32 length + UTF-8) and SHORT_BINSTRING (u8 length + bytes, decoded as ASCII
// by torch.load): both must be valid UTF-8.
void Unpickler::op_string(int length_bytes) {
  const auto n = le(length_bytes);
  Value s = make(Kind::kStr);
  s.node->str.assign(take(n));
  if (!is_valid_utf8(s.node->str)) fail("string is not valid UTF-8");
  push(std::move(s));
}

void Unpickler::op_get(int index_bytes) {
  const auto idx = static_cast<std::uint32_t>(le(index_bytes));
  const auto it = memo_.find(idx);
  if (it == memo_.end()) fail(fmt::format("memo index {} was never stored", idx));
  push(it->second);
}

void Unpickler::op_put(int index_bytes) { memo_[static_cast<std::uint32_t>(le(index_bytes))] = top(); }

c10::IValue Unpickler::run() {
  if (in_.size() > kMaxPickleBytes) {
    fail(fmt::format("pickle of {} bytes exceeds the {} MiB limit", in_.size(), kMaxPickleBytes >> 20));
  }
  while (true) {
    op_pos_ = pos_;
    const auto op = static_cast<unsigned char>(take(1)[0]);
    switch (op) {
      case 0x80:  // PROTO
        if (const auto proto = le(1); proto > 5) fail(fmt::format("unknown pickle protocol {}", proto));
        break;
      case '.': {  // STOP
        Value result = pop();
        return to_ivalue(result, 0);
      }
      case 'c': op_global(); break;
      case 'R': op_reduce(); break;
      case 0x81: op_newobj(); break;
      case 'b': op_build(); break;
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case 't': push(tuple(pop_mark())); break;          // TUPLE
      case 0x85:
      case 0x86:
      case 0x87: op_tuple_n(op - 0x84); break;    // TUPLE1, TUPLE2, TUPLE3
      case ')': push(make(Kind::kTuple)); break;  // EMPTY_TUPLE
      case ']': push(make(Kind::kList)); break;   // EMPTY_LIST
      case '}': push(make(Kind::kDict)); break;   // EMPTY_DICT
      case 'a': {                                 // APPEND
        Value item = pop();
        append(top(), std::move(item));
        break;
      }
      case 'e': op_appends(); break;
      case 's': op_setitem(); break;
      case 'u': op_setitems(); break;
      case 'J': push(Value{Kind::kInt, static_cast<std::int32_t>(le(4)), 0, nullptr}); break;  // BININT
      case 'K': push(Value{Kind::kInt, static_cast<std::int64_t>(le(1)), 0, nullptr}); break;  // BININT1
      case 'M': push(Value{Kind::kInt, static_cast<std::int64_t>(le(2)), 0, nullptr}); break;  // BININT2
      case 0x8a: op_long1(); break;
      case 'G': op_binfloat(); break;
      case 'X': op_string(4); break;                              // BINUNICODE
      case 'U': op_string(1); break;                              // SHORT_BINSTRING
      case 'Q': op_persistent_id(); break;                        // BINPERSID
      case 'h': op_get(1); break;                                 // BINGET
      case 'j': op_get(4); break;                                 // LONG_BINGET
      case 'q': op_put(1); break;                                 // BINPUT
      case 'r': op_put(4); break;                                 // LONG_BINPUT
      case 'N': push(Value{}); break;                             // NONE
      case 0x88: push(Value{Kind::kBool, 1, 0, nullptr}); break;  // NEWTRUE
      case 0x89: push(Value{Kind::kBool, 0, 0, nullptr}); break;  // NEWFALSE
      default:
        fail(fmt::format("pickle opcode 0x{:02x} is not supported (torch.save writes protocol 2)", op),
             "re-save the file with torch.save's default pickle protocol");
    }
  }
}

}  // namespace

c10::IValue unpickle(std::string_view bytes, const StorageLoader& load_storage, const std::string& where,
                     UnpickleOptions options) {
  return Unpickler(bytes, load_storage, where, options).run();
}

}  // namespace rsclip::pickle
