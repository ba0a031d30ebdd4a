// The restricted unpickler and the pickler (core/io/pickle.h) on hand-made pickles: what is
// accepted and what it becomes, and a catalogue of malicious or malformed pickles that
// must each end in rsclip::Error.
#include "core/io/pickle.h"

#include <gtest/gtest.h>

#include "core/base/error.h"

namespace rsclip::pickle {
namespace {

// Builds pickle bytes opcode by opcode.
struct P {
  std::string b = "\x80\x02";
  P& op(char c) {
    b += c;
    return *this;
  }
  P& raw(std::string_view s) {
    b += s;
    return *this;
  }
  P& u32(std::uint32_t v) {
    for (int k = 0; k < 4; ++k) b += static_cast<char>((v >> (8 * k)) & 0xff);
    return *this;
  }
  P& global(std::string_view module, std::string_view name) {
    b += 'c';
    b += module;
    b += '\n';
    b += name;
    b += '\n';
    return *this;
  }
  P& str(std::string_view s) {
    b += 'X';
    u32(static_cast<std::uint32_t>(s.size()));
    b += s;
    return *this;
  }
  P& i1(std::uint8_t v) {
    b += 'K';
    b += static_cast<char>(v);
    return *this;
  }
  P& put(std::uint8_t idx) {
    b += 'q';
    b += static_cast<char>(idx);
    return *this;
  }
  P& get(std::uint8_t idx) {
    b += 'h';
    b += static_cast<char>(idx);
    return *this;
  }
  // A tensor on storage `key` (FloatStorage of `numel`), as torch.save writes it.
  P& tensor(std::string_view key, int numel, int offset, std::vector<int> size, std::vector<int> stride) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(')
        .str("storage")
        .global("torch", "FloatStorage")
        .str(key)
        .str("cpu")
        .i1(static_cast<std::uint8_t>(numel))
        .op('t');
    op('Q').i1(static_cast<std::uint8_t>(offset));
    op('(');
    for (int s : size) i1(static_cast<std::uint8_t>(s));
    op('t').op('(');
    for (int s : stride) i1(static_cast<std::uint8_t>(s));
    op('t').op('\x89').global("collections", "OrderedDict").op(')').op('R').op('t').op('R');
    return *this;
  }
  std::string stop() { return b + "."; }
};

// Storages 0..n-1 filled with 0, 1, 2, ... (as float), created on demand; counts requests.
struct Storages {
  std::map<std::string, c10::Storage> made;
  int requests = 0;
  StorageLoader loader() {
    return [this](const StorageRef& ref) {
      ++requests;
      auto it = made.find(ref.key);
      if (it != made.end()) return it->second;
      if (ref.numel > 4096) throw Error("test storage too large");
      auto t = torch::arange(ref.numel, torch::TensorOptions().dtype(ref.dtype));
      return made.emplace(ref.key, t.storage()).first->second;
    };
  }
};

c10::IValue load(const std::string& bytes) {
  Storages s;
  return unpickle(bytes, s.loader(), "test.pkl");
}

// Expects rsclip::Error whose text contains `needle`.
void expect_pickle_error(const std::string& bytes, const std::string& needle) {
  try {
    load(bytes);
    ADD_FAILURE() << "expected rsclip::Error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Unpickle, ScalarsStringsAndContainers) {
  // {'a': [1, -2, 70000, 1.5, True, None, 'x'], 7: (1, 2), 'big': 2**40, 'neg': -2**40}
  P p;
  p.op('}').put(0).op('(').str("a").op(']').op('(').i1(1).op('J').u32(static_cast<std::uint32_t>(-2));
  p.op('J').u32(70000).op('G').raw(std::string("\x3f\xf8\0\0\0\0\0\0", 8)).op('\x88').op('N').str("x").op('e');
  p.op('K').raw("\x07").i1(1).i1(2).op('\x86');
  p.str("big").op('\x8a').raw(std::string("\x06\0\0\0\0\0\x01", 7));
  p.str("neg").op('\x8a').raw(std::string("\x06\0\0\0\0\0\xff", 7));
  p.op('u');
  const auto v = load(p.stop());
  ASSERT_TRUE(v.isGenericDict());
  const auto d = v.toGenericDict();
  const auto list = d.at("a").toListRef();
  ASSERT_EQ(list.size(), 7u);
  EXPECT_EQ(list[0].toInt(), 1);
  EXPECT_EQ(list[1].toInt(), -2);
  EXPECT_EQ(list[2].toInt(), 70000);
  EXPECT_EQ(list[3].toDouble(), 1.5);
  EXPECT_TRUE(list[4].toBool());
  EXPECT_TRUE(list[5].isNone());
  EXPECT_EQ(list[6].toStringRef(), "x");
  EXPECT_EQ(d.at(int64_t{7}).toTupleRef().elements()[1].toInt(), 2);
  EXPECT_EQ(d.at("big").toInt(), int64_t{1} << 40);
  EXPECT_EQ(d.at("neg").toInt(), -(int64_t{1} << 40));
  // Insertion order is kept.
  std::vector<std::string> keys;
  for (const auto& item : d) keys.push_back(item.key().isString() ? item.key().toStringRef() : "7");
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "7", "big", "neg"}));
}

TEST(Unpickle, RepeatedKeyKeepsFirstPositionTakesLastValue) {
  P p;
  p.op('}').op('(').str("a").i1(1).str("b").i1(2).str("a").i1(3).op('u');
  const auto d = load(p.stop()).toGenericDict();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.begin()->key().toStringRef(), "a");
  EXPECT_EQ(d.at("a").toInt(), 3);
}

TEST(Unpickle, TensorsShareStoragesAndViews) {
  // OrderedDict(w=storage0 as 2x3, wt=its transpose, tail=storage0[2:5]) + BUILD of _metadata.
  P p;
  p.global("collections", "OrderedDict").op(')').op('R').op('(');
  p.str("w").tensor("0", 6, 0, {2, 3}, {3, 1});
  p.str("wt").tensor("0", 6, 0, {3, 2}, {1, 3});
  p.str("tail").tensor("0", 6, 2, {3}, {1});
  p.op('u').op('}').str("_metadata").op('}').op('s').op('b');
  Storages s;
  const auto d = unpickle(p.stop(), s.loader(), "t").toGenericDict();
  const auto w = d.at("w").toTensor(), wt = d.at("wt").toTensor(), tail = d.at("tail").toTensor();
  EXPECT_TRUE(torch::equal(w, torch::arange(6, torch::kFloat).view({2, 3})));
  EXPECT_TRUE(torch::equal(wt, w.t()));
  EXPECT_EQ(wt.strides().vec(), (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(torch::equal(tail, torch::tensor({2.f, 3.f, 4.f})));
  EXPECT_TRUE(w.storage().is_alias_of(tail.storage()));
  EXPECT_EQ(s.requests, 3);
}

TEST(Unpickle, TorchSizeDeviceAndDtype) {
  P p;
  p.op('(').global("torch", "Size").op('(').i1(2).i1(3).op('t').op('\x85').op('R');
  p.global("torch", "device").str("cuda:1").op('\x85').op('R');
  p.global("torch", "bfloat16").op('t');
  const auto t = load(p.stop()).toTupleRef().elements();
  EXPECT_EQ(t[0].toTupleRef().elements()[1].toInt(), 3);
  EXPECT_EQ(t[1].toDevice(), c10::Device(c10::kCUDA, 1));
  EXPECT_EQ(t[2].toInt(), static_cast<int64_t>(c10::kBFloat16));
}

TEST(Unpickle, RejectsForbiddenGlobalsNamingThem) {
  for (const auto& [module, name] :
       std::vector<std::pair<std::string, std::string>>{{"os", "system"},
                                                        {"posix", "system"},
                                                        {"builtins", "eval"},
                                                        {"__builtin__", "getattr"},
                                                        {"subprocess", "Popen"},
                                                        {"torch._utils", "_rebuild_qtensor"},
                                                        {"torch", "load"}}) {
    P p;
    p.global(module, name).op('(').str("echo pwned").op('t').op('R');
    try {
      load(p.stop());
      ADD_FAILURE() << module << "." << name << " was accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(module + "." + name), std::string::npos) << what;
      EXPECT_NE(what.find("torch.save(model.state_dict())"), std::string::npos) << what;
    }
  }
}

TEST(Unpickle, MalformedCatalogue) {
  using namespace std::string_literals;
  const std::string proto = "\x80\x02"s;
  expect_pickle_error("", "needs 1 bytes");
  expect_pickle_error(proto, "needs 1 bytes");                                  // no STOP
  expect_pickle_error(proto + "."s, "underflow");                               // STOP on empty stack
  expect_pickle_error(proto + "t."s, "no MARK");                                // TUPLE without MARK
  expect_pickle_error(proto + "K\x01(a."s, "underflow");                        // APPEND below the MARK
  expect_pickle_error(proto + "\x86."s, "underflow");                           // TUPLE2 on empty stack
  expect_pickle_error(proto + "h\x05."s, "memo index 5");                       // BINGET never stored
  expect_pickle_error(proto + "j\xff\xff\xff\xff."s, "memo index 4294967295");  // LONG_BINGET huge
  expect_pickle_error(proto + "q\x00."s, "underflow");                          // BINPUT on empty stack
  expect_pickle_error(proto +
                          "X\xff\xff\xff\xff"
                          "abc."s,
                      "needs 4294967295 bytes");  // huge BINUNICODE
  expect_pickle_error(proto +
                          "U\x10"
                          "abc"s,
                      "needs 16 bytes");                       // short string truncated
  expect_pickle_error(proto + "X\x02\0\0\0\xc3(."s, "UTF-8");  // invalid UTF-8
  expect_pickle_error(proto +
                          "\x8a\x09"
                          "123456789."s,
                      "64 bits");                                    // LONG1 too long
  expect_pickle_error(proto + "J\x01\x02"s, "needs 4 bytes");        // truncated BININT
  expect_pickle_error(proto + "G\x01\x02\x03"s, "needs 8 bytes");    // truncated BINFLOAT
  expect_pickle_error(proto + "\x95\x05\0\0\0\0\0\0\0N."s, "0x95");  // FRAME (protocol 4)
  expect_pickle_error(proto + "\x8c\x01xN."s, "0x8c");               // SHORT_BINUNICODE
  expect_pickle_error(proto + "\x93."s, "0x93");                     // STACK_GLOBAL
  expect_pickle_error(proto + "cos\nsystem"s, "not terminated");     // GLOBAL without newline
  expect_pickle_error("\x80\x09N."s, "protocol 9");
  expect_pickle_error(proto + "}(K\x01u."s, "odd number");  // SETITEMS odd
  expect_pickle_error(proto + "K\x01K\x02K\x03s."s, "SETITEM applied to a int");
  expect_pickle_error(proto + "](K\x01K\x02u."s, "SETITEM applied to a list");
  expect_pickle_error(proto +
                          "}K\x01"
                          "a."s,
                      "APPEND applied to a dict");
  expect_pickle_error(proto + "}]K\x01s."s, "dict key of type list");  // unhashable key
  expect_pickle_error(proto + "}G\0\0\0\0\0\0\0\0K\x01s."s, "dict key of type float");
  expect_pickle_error(proto + "K\x01K\x02R."s, "REDUCE calls a int");
  expect_pickle_error(proto + "K\x01)b."s, "BUILD on a int");
  expect_pickle_error(proto + "ctorch\nTensor\n)\x81."s, "NEWOBJ");
  expect_pickle_error(proto + "ctorch\nFloatStorage\n."s, "class or function is stored as data");
}

TEST(Unpickle, RejectsCyclesAndLateMutation) {
  using namespace std::string_literals;
  const std::string proto = "\x80\x02"s;
  expect_pickle_error(proto +
                          "]q\x00h\x00"
                          "a."s,
                      "contains itself");  // l = []; l.append(l)
  // a = []; b = [a]; a.append(1): a changes after being nested (and could then hold b).
  expect_pickle_error(proto +
                          "]q\x00](h\x00"
                          "e"
                          "h\x00K\x01"
                          "a."s,
                      "after it was nested");
  // b = []; t = (b,); b.append(1)
  expect_pickle_error(proto +
                          "]q\x00h\x00\x85h\x00K\x01"
                          "a."s,
                      "after it was nested");
}

TEST(Unpickle, DepthLimit) {
  // kMaxDepth nested lists are fine, one more is not.
  auto nested = [](std::size_t depth) {
    std::string s = "\x80\x02";
    s.append(depth, ']');
    s += 'N';
    s.append(depth, 'a');
    return s + ".";
  };
  EXPECT_NO_THROW(load(nested(kMaxDepth)));
  expect_pickle_error(nested(kMaxDepth + 1), "nested deeper");
  std::string tuples = "\x80\x02N";
  tuples.append(100000, '\x85');
  expect_pickle_error(tuples + ".", "nested deeper");
}

TEST(Unpickle, TensorBoundsCatalogue) {
  auto one = [](int numel, int offset, std::vector<int> size, std::vector<int> stride) {
    P p;
    p.tensor("0", numel, offset, size, stride);
    return p.stop();
  };
  EXPECT_NO_THROW(load(one(6, 0, {2, 3}, {3, 1})));
  EXPECT_NO_THROW(load(one(6, 5, {1}, {1})));
  EXPECT_NO_THROW(load(one(6, 6, {0, 3}, {3, 1})));  // empty view at the end
  EXPECT_NO_THROW(load(one(6, 0, {4, 3}, {0, 1})));  // expanded (stride 0)
  expect_pickle_error(one(6, 0, {2, 4}, {4, 1}), "exceeds its storage");
  expect_pickle_error(one(6, 6, {1}, {1}), "exceeds its storage");
  expect_pickle_error(one(6, 7, {0}, {1}), "exceeds its storage");
  expect_pickle_error(one(6, 0, {3, 3}, {1, 3}), "exceeds its storage");
  expect_pickle_error(one(6, 0, {2, 3}, {3}), "different lengths");
  // Sizes whose product overflows int64 even though one is zero (c10 would throw).
  P big;
  big.global("torch._utils", "_rebuild_tensor_v2").op('(').op('(').str("storage").global("torch", "FloatStorage");
  big.str("0").str("cpu").i1(6).op('t').op('Q').i1(0).op('(').i1(0);
  big.op('\x8a').raw(std::string("\x08\0\0\0\0\0\0\0\x40", 9)).op('\x8a').raw(std::string("\x08\0\0\0\0\0\0\0\x40", 9));
  big.op('t').op('(').i1(1).i1(1).i1(1).op('t').op('\x89').op('}').op('t').op('R');
  expect_pickle_error(big.stop(), "overflows");
  // Negative stride.
  P neg;
  neg.global("torch._utils", "_rebuild_tensor_v2").op('(').op('(').str("storage").global("torch", "FloatStorage");
  neg.str("0").str("cpu").i1(6).op('t').op('Q').i1(3).i1(2).op('\x85');
  neg.op('J').u32(static_cast<std::uint32_t>(-1)).op('\x85').op('\x89').op('}').op('t').op('R');
  expect_pickle_error(neg.stop(), "negative");
  // A persistent id that is not a storage, and a storage used as data.
  expect_pickle_error(P().op('(').str("module").str("x").op('t').op('Q').stop(), "not a ('storage'");
  expect_pickle_error(
      P().op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").i1(2).op('t').op('Q').stop(),
      "bare storage");
  // The loader's own refusal passes through.
  expect_pickle_error(P().op('(')
                          .str("storage")
                          .global("torch", "FloatStorage")
                          .str("0")
                          .str("cpu")
                          .op('M')
                          .raw("\xff\xff")
                          .op('t')
                          .op('Q')
                          .stop(),
                      "test storage too large");
}

TEST(Pickle, StateDictMatchesTorchSaveOpcodes) {
  StateDict sd;
  const auto w = torch::arange(6, torch::kFloat).view({2, 3});
  sd.insert("w", w);
  sd.insert("wt", w.t());
  const Pickled p = pickle_state_dict(sd);
  // The exact prefix torch.save writes (see torch 2.11's data.pkl of an OrderedDict).
  using namespace std::string_literals;
  const std::string head =
      "\x80\x02"
      "ccollections\nOrderedDict\nq\x00)Rq\x01(X\x01\0\0\0wq\x02"s +
      "ctorch._utils\n_rebuild_tensor_v2\nq\x03((X\x07\0\0\0storageq\x04"s +
      "ctorch\nFloatStorage\nq\x05X\x01\0\0\0"
      "0q\x06X\x03\0\0\0"
      "cpuq\x07K\x06tq\x08Q"s;
  EXPECT_EQ(p.data.substr(0, head.size()), head);
  ASSERT_EQ(p.storages.size(), 1u);  // one storage for both tensors
  // Read back: values, strides and sharing survive.
  const auto d = unpickle(
                     p.data, [&](const StorageRef& ref) { return p.storages.at(std::stoul(ref.key)); }, "rt")
                     .toGenericDict();
  EXPECT_TRUE(torch::equal(d.at("wt").toTensor(), w.t()));
  EXPECT_EQ(d.at("wt").toTensor().strides().vec(), (std::vector<int64_t>{1, 3}));
}

TEST(Pickle, BatchesOfAThousandRoundTrip) {
  StateDict sd;
  for (int i = 0; i < 2001; ++i) sd.insert("p" + std::to_string(i), torch::full({1}, static_cast<float>(i)));
  const Pickled p = pickle_state_dict(sd);
  EXPECT_EQ(p.storages.size(), 2001u);
  const auto d = unpickle(
                     p.data, [&](const StorageRef& ref) { return p.storages.at(std::stoul(ref.key)); }, "rt")
                     .toGenericDict();
  ASSERT_EQ(d.size(), 2001u);
  int i = 0;
  for (const auto& item : d) {
    EXPECT_EQ(item.key().toStringRef(), "p" + std::to_string(i));
    EXPECT_EQ(item.value().toTensor().item<float>(), static_cast<float>(i));
    ++i;
  }
}

TEST(Pickle, GeneralValuesRoundTrip) {
  c10::impl::GenericDict d(c10::AnyType::get(), c10::AnyType::get());
  d.insert("ints",
           c10::IValue(std::vector<int64_t>{0, 255, 256, 65535, 65536, -1, INT32_MIN, INT32_MAX, int64_t{INT32_MAX} + 1,
                                            INT64_MAX, INT64_MIN, -(int64_t{1} << 40)}));
  d.insert("pi", 3.141592653589793);
  d.insert("s", "h\xc3\xa9llo");
  d.insert("t", c10::ivalue::Tuple::create({1, 2, 3, 4}));
  d.insert("none", c10::IValue());
  d.insert(int64_t{5}, true);
  d.insert("x", torch::randn({3, 2}).t());
  const Pickled p = pickle_value(d);
  const auto back = unpickle(
      p.data, [&](const StorageRef& ref) { return p.storages.at(std::stoul(ref.key)); }, "rt");
  const auto e = back.toGenericDict();
  auto ints = [](const c10::IValue& v) {
    std::vector<int64_t> out;
    for (const auto& x : v.toListRef()) out.push_back(x.toInt());
    return out;
  };
  EXPECT_EQ(ints(e.at("ints")), ints(d.at("ints")));
  EXPECT_EQ(e.at("pi").toDouble(), 3.141592653589793);
  EXPECT_EQ(e.at("s").toStringRef(), "h\xc3\xa9llo");
  EXPECT_EQ(e.at("t").toTupleRef().elements().size(), 4u);
  EXPECT_TRUE(e.at("none").isNone());
  EXPECT_TRUE(e.at(int64_t{5}).toBool());
  EXPECT_TRUE(torch::equal(e.at("x").toTensor(), d.at("x").toTensor()));
}

TEST(Pickle, RefusesWhatTorchCannotLoadBack) {
  EXPECT_THROW(pickle_value(c10::IValue(c10::Device(c10::kCPU))), Error);
  StateDict sd;
  const auto base = torch::zeros({4});
  sd.insert("a", base);
  sd.insert("b", base.view(torch::kInt));  // one storage as two dtypes
  EXPECT_THROW(pickle_state_dict(sd), Error);
}

}  // namespace
}  // namespace rsclip::pickle
