// Pickle writer for torch.save files (see pickle.h). It reproduces what CPython's pickle
// module (protocol 2, Lib/pickle.py) emits for torch.save's objects, memo and all:
//   - every str, non-empty tuple, dict, list and global is memoized (BINPUT) as written;
//     an object met again is fetched (BINGET). Objects that Python shares are the globals,
//     the constant strings 'storage' and 'cpu' and a storage's key string;
//   - dict items go in batches of 1000 (MARK ... SETITEMS, a single item as SETITEM),
//     list items likewise with APPENDS/APPEND;
//   - ints use the smallest of BININT1/BININT2/BININT/LONG1;
//   - a tensor is _rebuild_tensor_v2(persistent_id(storage), offset, size, stride, False,
//     OrderedDict()), the persistent id ('storage', torch.<T>Storage, key, 'cpu', numel),
//     keys "0", "1", ... per distinct storage in first-use order (torch/serialization.py
//     _save's id_map).
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "core/base/error.h"
#include "core/io/pickle.h"

namespace rsclip::pickle {
namespace {

constexpr std::size_t kBatchSize = 1000;  // pickle.Pickler._BATCHSIZE

struct StorageClass {
  c10::ScalarType dtype;
  const char* name;
};
constexpr StorageClass kStorageClasses[] = {
    {c10::kFloat, "FloatStorage"},
    {c10::kDouble, "DoubleStorage"},
    {c10::kHalf, "HalfStorage"},
    {c10::kBFloat16, "BFloat16Storage"},
    {c10::kLong, "LongStorage"},
    {c10::kInt, "IntStorage"},
    {c10::kShort, "ShortStorage"},
    {c10::kChar, "CharStorage"},
    {c10::kByte, "ByteStorage"},
    {c10::kBool, "BoolStorage"},
    {c10::kComplexFloat, "ComplexFloatStorage"},
    {c10::kComplexDouble, "ComplexDoubleStorage"},
};

class Pickler {
 public:
  Pickler() { out_ += "\x80\x02"; }  // PROTO 2

  Pickled finish() {
    out_ += '.';  // STOP
    return {std::move(out_), std::move(storages_)};
  }

  // pickle's _batch_setitems: batches of 1000, MARK ... SETITEMS, or SETITEM for one.
  template <class Items, class SaveItem>
  void set_items(const Items& items, SaveItem&& save_item) {
    for (std::size_t start = 0; start < items.size(); start += kBatchSize) {
      const std::size_t count = std::min(kBatchSize, items.size() - start);
      if (count > 1) out_ += '(';  // MARK
      for (std::size_t k = start; k < start + count; ++k) save_item(items[k]);
      out_ += count > 1 ? 'u' : 's';  // SETITEMS / SETITEM
    }
  }

  // OrderedDict() as save_reduce writes it: GLOBAL, EMPTY_TUPLE, REDUCE, memoized.
  void ordered_dict_begin() {
    global("collections", "OrderedDict");
    out_ += ")R";
    put();
  }

  void str(std::string_view s) {
    out_ += 'X';
    u32(static_cast<std::uint32_t>(s.size()));
    out_ += s;
    put();
  }

  void integer(std::int64_t v) {
    if (v >= 0 && v <= 0xff) {
      out_ += 'K';
      out_ += static_cast<char>(v);
    } else if (v >= 0 && v <= 0xffff) {
      out_ += 'M';
      out_ += static_cast<char>(v & 0xff);
      out_ += static_cast<char>(v >> 8);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'J';
      u32(static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
    } else {
      // pickle.encode_long: (bit_length >> 3) + 1 bytes of two's complement, dropping a
      // redundant 0xff for negative numbers.
      const auto u = static_cast<std::uint64_t>(v);
      const int bit_length = v >= 0 ? 64 - __builtin_clzll(u) : 64 - __builtin_clzll(~u);
      int n = (bit_length >> 3) + 1;
      if (n > 8) n = 8;
      std::string bytes;
      for (int k = 0; k < n; ++k) bytes += static_cast<char>((u >> (8 * k)) & 0xff);
      if (v < 0 && n > 1 && static_cast<unsigned char>(bytes[n - 1]) == 0xff &&
          (static_cast<unsigned char>(bytes[n - 2]) & 0x80)) {
        bytes.pop_back();
      }
      out_ += '\x8a';
      out_ += static_cast<char>(bytes.size());
      out_ += bytes;
    }
  }

  void tensor(const at::Tensor& in) {
    if (in.is_quantized() || in.layout() != c10::kStrided)
      throw Error("only dense tensors can be written to a torch file");
    // A device tensor is written from a CPU copy of the view (its own storage).
    const at::Tensor t = in.device().is_cpu() ? in : in.cpu();
    const c10::Storage& storage = t.storage();
    const char* cls = storage_class_name(t.scalar_type());
    global("torch._utils", "_rebuild_tensor_v2");
    out_ += '(';  // MARK: the 6-argument tuple

    // Persistent id ('storage', torch.<T>Storage, key, 'cpu', numel).
    out_ += '(';
    memoized_string(storage_str_, "storage");
    global("torch", cls);
    auto [it, fresh] = storage_keys_.try_emplace(storage.unsafeGetStorageImpl());
    auto& key = it->second;
    if (fresh) {
      key.dtype = t.scalar_type();
      key.name = std::to_string(storages_.size());
      storages_.push_back(storage);
    } else if (key.dtype != t.scalar_type()) {
      // torch.save refuses this too ("view the same data as different types").
      throw Error("cannot save tensors that view one storage as different dtypes");
    }
    memoized_string(key.memo, key.name);
    memoized_string(cpu_str_, "cpu");
    integer(static_cast<std::int64_t>(storage.nbytes() / t.element_size()));
    out_ += 't';  // TUPLE
    put();
    out_ += 'Q';  // BINPERSID

    integer(t.storage_offset());
    int_tuple(t.sizes());
    int_tuple(t.strides());
    out_ += '\x89';        // NEWFALSE: requires_grad
    ordered_dict_begin();  // backward_hooks = OrderedDict()
    out_ += 't';
    put();
    out_ += 'R';
    put();
  }

  void value(const c10::IValue& v) {
    if (v.isNone()) {
      out_ += 'N';
    } else if (v.isBool()) {
      out_ += v.toBool() ? '\x88' : '\x89';
    } else if (v.isInt()) {
      integer(v.toInt());
    } else if (v.isDouble()) {
      std::uint64_t bits;
      const double d = v.toDouble();
      std::memcpy(&bits, &d, sizeof bits);
      out_ += 'G';
      for (int k = 7; k >= 0; --k) out_ += static_cast<char>((bits >> (8 * k)) & 0xff);
    } else if (v.isString()) {
      str(v.toStringRef());
    } else if (v.isTensor()) {
      tensor(v.toTensor());
    } else if (v.isTuple()) {
      const auto& elems = v.toTupleRef().elements();
      tuple_of(elems.size(), [&](std::size_t k) { value(elems[k]); });
    } else if (v.isList()) {
      const auto list = v.toListRef();
      out_ += ']';
      put();
      for (std::size_t start = 0; start < list.size(); start += kBatchSize) {
        const std::size_t count = std::min(kBatchSize, list.size() - start);
        if (count > 1) out_ += '(';
        for (std::size_t k = start; k < start + count; ++k) value(list[k]);
        out_ += count > 1 ? 'e' : 'a';  // APPENDS / APPEND
      }
    } else if (v.isGenericDict()) {
      const auto dict = v.toGenericDict();
      out_ += '}';
      put();
      std::vector<std::pair<c10::IValue, c10::IValue>> items;
      for (const auto& item : dict) items.emplace_back(item.key(), item.value());
      set_items(items, [&](const auto& kv) {
        value(kv.first);
        value(kv.second);
      });
    } else {
      throw Error(std::string("cannot write a value of type ") + v.tagKind() + " to a torch file");
    }
  }

 private:
  void put() {
    const std::uint32_t idx = next_memo_++;
    if (idx < 256) {
      out_ += 'q';
      out_ += static_cast<char>(idx);
    } else {
      out_ += 'r';
      u32(idx);
    }
  }
  void get(std::uint32_t idx) {
    if (idx < 256) {
      out_ += 'h';
      out_ += static_cast<char>(idx);
    } else {
      out_ += 'j';
      u32(idx);
    }
  }
  void u32(std::uint32_t v) {
    for (int k = 0; k < 4; ++k) out_ += static_cast<char>((v >> (8 * k)) & 0xff);
  }
  void global(const char* module, const char* name) {
    auto [it, fresh] = globals_.try_emplace(std::string(module) + "\n" + name + "\n", next_memo_);
    if (!fresh) return get(it->second);
    out_ += 'c';
    out_ += it->first;
    put();
  }
  // A string Python writes as one shared object: BINUNICODE the first time, BINGET after.
  void memoized_string(std::optional<std::uint32_t>& memo, std::string_view s) {
    if (memo) return get(*memo);
    memo = next_memo_;
    str(s);
  }
  // pickle.save_tuple: () is EMPTY_TUPLE unmemoized; 1-3 items use TUPLE1-3; longer MARK..TUPLE.
  template <class SaveItem>
  void tuple_of(std::size_t n, SaveItem&& save_item) {
    if (n == 0) {
      out_ += ')';
      return;
    }
    if (n > 3) out_ += '(';
    for (std::size_t k = 0; k < n; ++k) save_item(k);
    out_ += n > 3 ? 't' : static_cast<char>(0x84 + n);
    put();
  }
  void int_tuple(c10::IntArrayRef values) {
    tuple_of(values.size(), [&](std::size_t k) { integer(values[k]); });
  }

  struct StorageKey {
    c10::ScalarType dtype{};
    std::string name;
    std::optional<std::uint32_t> memo;
  };

  std::string out_;
  std::uint32_t next_memo_ = 0;
  std::map<std::string, std::uint32_t> globals_;
  std::optional<std::uint32_t> storage_str_, cpu_str_;
  std::unordered_map<const c10::StorageImpl*, StorageKey> storage_keys_;
  std::vector<c10::Storage> storages_;
};

}  // namespace

const char* storage_class_name(c10::ScalarType dtype) {
  for (const auto& c : kStorageClasses) {
    if (c.dtype == dtype) return c.name;
  }
  throw Error(std::string("cannot write dtype ") + c10::toString(dtype) + " to a torch file");
}

Pickled pickle_state_dict(const StateDict& state_dict) {
  Pickler p;
  p.ordered_dict_begin();
  p.set_items(state_dict.items(), [&](const auto& item) {
    p.str(item.key());
    p.tensor(item.value());
  });
  return p.finish();
}

Pickled pickle_value(const c10::IValue& value) {
  Pickler p;
  p.value(value);
  return p.finish();
}

}  // namespace rsclip::pickle
