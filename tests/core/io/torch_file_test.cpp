// torch.save zip archives and the checkpoint entry point without Python: write/read round
// trips, and a catalogue of corrupt files (in the manner of ggml's test-gguf) that must
// each end in rsclip::Error -- never a crash, never an allocation the file does not back.
#include "core/io/torch_file.h"

#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/io/checkpoint_reader.h"
#include "core/io/zip_archive.h"
#include "tests/reference/test_support.h"

namespace rsclip {
namespace {
namespace fs = std::filesystem;

bool same_state_dict(const StateDict& a, const StateDict& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].key() != b[i].key() || !testing::same_bytes(a[i].value(), b[i].value())) return false;
  }
  return true;
}

std::string zip_bytes(const pickle::Pickled& pickled) {
  std::string out;
  write_torch_zip(pickled, [&](const char* data, std::size_t n) {
    out.append(data, n);
    return true;
  });
  return out;
}

StateDict sample_state_dict() {
  torch::manual_seed(11);
  const auto base = torch::randn({4, 6});
  StateDict sd;
  sd.insert("visual.conv1.weight", torch::randn({3, 2, 2, 2}));
  sd.insert("base", base);
  sd.insert("base_t", base.t());
  sd.insert("tail", base.view({24}).slice(0, 10));
  sd.insert("half", torch::randn({5}).to(torch::kHalf));
  sd.insert("bf16", torch::randn({2, 3}).to(torch::kBFloat16));
  sd.insert("ids", torch::arange(7));
  sd.insert("logit_scale", torch::tensor(4.6052f));
  return sd;
}

StateDict load_bytes(const std::string& bytes) {
  return state_dict_from_checkpoint(TorchArchive(bytes, "mem.pt").load(), "mem.pt");
}

// Minimal zip writer for hand-made archives: stored records, central directory, end record.
struct ZipBuilder {
  struct Record {
    std::string name, data;
    std::uint16_t method = 0, flags = 0;
    std::int64_t crc_delta = 0;
  };
  std::vector<Record> records;
  ZipBuilder& add(std::string name, std::string data) {
    records.push_back({std::move(name), std::move(data)});
    return *this;
  }
  static void le(std::string& s, std::uint64_t v, int n) {
    for (int k = 0; k < n; ++k) s += static_cast<char>((v >> (8 * k)) & 0xff);
  }
  std::string build(std::int64_t count_delta = 0) const {
    std::string out, cd;
    for (const auto& r : records) {
      const auto crc = static_cast<std::uint32_t>(
          ::crc32(0, reinterpret_cast<const Bytef*>(r.data.data()), static_cast<uInt>(r.data.size())) + r.crc_delta);
      const std::size_t offset = out.size();
      le(out, 0x04034b50, 4), le(out, 20, 2), le(out, r.flags, 2), le(out, r.method, 2), le(out, 0, 4);
      le(out, crc, 4), le(out, r.data.size(), 4), le(out, r.data.size(), 4), le(out, r.name.size(), 2), le(out, 0, 2);
      out += r.name + r.data;
      le(cd, 0x02014b50, 4), le(cd, 20, 2), le(cd, 20, 2), le(cd, r.flags, 2), le(cd, r.method, 2), le(cd, 0, 4);
      le(cd, crc, 4), le(cd, r.data.size(), 4), le(cd, r.data.size(), 4), le(cd, r.name.size(), 2), le(cd, 0, 2);
      le(cd, 0, 2), le(cd, 0, 2), le(cd, 0, 2), le(cd, 0, 4), le(cd, offset, 4);
      cd += r.name;
    }
    const std::size_t cd_offset = out.size();
    out += cd;
    le(out, 0x06054b50, 4), le(out, 0, 2), le(out, 0, 2);
    le(out, records.size() + count_delta, 2), le(out, records.size() + count_delta, 2);
    le(out, cd.size(), 4), le(out, cd_offset, 4), le(out, 0, 2);
    return out;
  }
};

// A valid torch archive as ZipBuilder records, for hand-made variants.
ZipBuilder torch_records(const pickle::Pickled& p) {
  ZipBuilder z;
  z.add("archive/data.pkl", p.data);
  z.add("archive/byteorder", "little");
  for (std::size_t i = 0; i < p.storages.size(); ++i) {
    z.add("archive/data/" + std::to_string(i),
          std::string(static_cast<const char*>(p.storages[i].data()), p.storages[i].nbytes()));
  }
  z.add("archive/version", "3\n");
  return z;
}

void expect_zip_error(const std::string& bytes, const std::string& needle) {
  try {
    load_bytes(bytes);
    ADD_FAILURE() << "expected rsclip::Error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TorchFile, RoundTripKeepsValuesViewsAndSharing) {
  const StateDict sd = sample_state_dict();
  const std::string bytes = zip_bytes(pickle::pickle_state_dict(sd));
  const StateDict back = load_bytes(bytes);
  EXPECT_TRUE(same_state_dict(back, sd));
  EXPECT_EQ(back["base_t"].strides().vec(), (std::vector<int64_t>{1, 6}));
  EXPECT_EQ(back["tail"].storage_offset(), 10);
  EXPECT_TRUE(back["base"].storage().is_alias_of(back["base_t"].storage()));
  EXPECT_TRUE(back["base"].storage().is_alias_of(back["tail"].storage()));
  EXPECT_FALSE(back["base"].storage().is_alias_of(back["half"].storage()));
  // Records in torch.save's layout.
  const ZipArchive zip(bytes, "mem");
  std::vector<std::string> names;
  for (const auto& e : zip.entries()) names.push_back(e.name);
  const std::vector<std::string> expected = {
      "archive/data.pkl",  "archive/.format_version", "archive/.storage_alignment",
      "archive/byteorder", "archive/data/0",          "archive/data/1",
      "archive/data/2",    "archive/data/3",          "archive/data/4",
      "archive/data/5",    "archive/version",         "archive/.data/serialization_id"};
  EXPECT_EQ(names, expected);
  for (const auto& e : zip.entries()) {
    if (e.name.find("/data/") != std::string::npos) {
      EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
    }
  }
}

TEST(TorchFile, HandBuiltArchiveReads) {
  const StateDict sd = sample_state_dict();
  EXPECT_TRUE(same_state_dict(load_bytes(torch_records(pickle::pickle_state_dict(sd)).build()), sd));
}

TEST(TorchFile, TruncatedAtEveryOffset) {
  const std::string bytes = zip_bytes(pickle::pickle_state_dict(sample_state_dict()));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THROW(load_bytes(bytes.substr(0, n)), Error) << "truncated to " << n << " of " << bytes.size();
  }
}

TEST(TorchFile, FlippedBytesAreCaughtOrHarmless) {
  const StateDict sd = sample_state_dict();
  const std::string bytes = zip_bytes(pickle::pickle_state_dict(sd));
  const ZipArchive zip(bytes, "mem");
  // Bytes whose change must be detected: the data of every record the reader uses.
  std::vector<bool> checked(bytes.size(), false);
  for (const auto& e : zip.entries()) {
    const bool used =
        e.name.find("/data") != std::string::npos || e.name.ends_with("/version") || e.name.ends_with("/byteorder");
    if (!used || e.name.ends_with("serialization_id")) continue;
    for (std::uint64_t i = e.data_offset; i < e.data_offset + e.size; ++i) checked[i] = true;
  }
  std::size_t errors = 0, harmless = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x55);
    try {
      const StateDict back = load_bytes(bad);
      EXPECT_TRUE(same_state_dict(back, sd)) << "flip at " << i << " silently changed the tensors";
      EXPECT_FALSE(checked[i]) << "flip at " << i << " inside record data went unnoticed";
      ++harmless;
    } catch (const Error&) {
      ++errors;
    }
  }
  std::printf("  %zu flips: %zu rejected, %zu harmless (timestamps, padding, unused records)\n", bytes.size(), errors,
              harmless);
}

TEST(TorchFile, CorruptCatalogue) {
  const pickle::Pickled good = pickle::pickle_state_dict(sample_state_dict());
  using namespace std::string_literals;

  {  // A pickle calling os.system instead of building tensors.
    pickle::Pickled evil{
        "\x80\x02"
        "cos\nsystem\nX\x02\0\0\0lsq\x00\x85R."s,
        {}};
    expect_zip_error(torch_records(evil).build(), "'os.system' is not allowed");
  }
  {  // builtins.eval hidden inside an otherwise plain OrderedDict.
    pickle::Pickled evil{
        "\x80\x02"
        "ccollections\nOrderedDict\n)R(X\x01\0\0\0"
        "acbuiltins\neval\nX\x01\0\0\0"
        "1\x85Ru."s,
        {}};
    expect_zip_error(torch_records(evil).build(), "'builtins.eval' is not allowed");
  }
  {  // Storage record missing.
    ZipBuilder z = torch_records(good);
    z.records.erase(z.records.begin() + 3);  // archive/data/1
    expect_zip_error(z.build(), "archive/data/1: record missing");
  }
  {  // Storage record shorter than the pickle declares.
    ZipBuilder z = torch_records(good);
    z.records[2].data.resize(z.records[2].data.size() - 4);
    expect_zip_error(z.build(), "storage record has");
  }
  {  // Tensor view beyond its storage: shrink every numel in the pickle's persistent ids.
    StateDict sd;
    sd.insert("w", torch::zeros({4, 4}).slice(0, 2));  // offset 8, 8 elements of a 16-element storage
    pickle::Pickled p = pickle::pickle_state_dict(sd);
    p.storages[0] = torch::zeros({10}).storage();  // ... now only 10 elements
    const auto pos = p.data.find("K\x10tq"s);      // numel 16 -> 10
    ASSERT_NE(pos, std::string::npos);
    p.data[pos + 1] = '\x0a';
    expect_zip_error(torch_records(p).build(), "exceeds its storage");
  }
  {  // CRC mismatch in a storage.
    ZipBuilder z = torch_records(good);
    z.records[2].crc_delta = 1;
    expect_zip_error(z.build(), "CRC-32 mismatch");
  }
  {  // Compressed and encrypted records.
    ZipBuilder z = torch_records(good);
    z.records[0].method = 8;
    expect_zip_error(z.build(), "compressed zip record");
    z.records[0].method = 0;
    z.records[0].flags = 1;
    expect_zip_error(z.build(), "encrypted");
  }
  {  // Version and byteorder records.
    ZipBuilder z = torch_records(good);
    z.records.pop_back();
    expect_zip_error(z.build(), "no version record");
    z = torch_records(good);
    z.records.back().data = "11\n";
    expect_zip_error(z.build(), "unsupported torch file format version '11'");
    z.records.back().data = "x";
    expect_zip_error(z.build(), "format version 'x'");
    z = torch_records(good);
    z.records[1].data = "middle";
    expect_zip_error(z.build(), "byteorder record");
  }
  {  // Archive structure.
    expect_zip_error(ZipBuilder().build(), "empty zip archive");
    expect_zip_error(ZipBuilder().add("data.pkl", good.data).add("version", "3").build(), "not inside a folder");
    ZipBuilder dup = torch_records(good);
    dup.add("archive/version", "3\n");
    expect_zip_error(dup.build(), "duplicate zip entry");
    expect_zip_error(torch_records(good).build(1), "bad central directory header");
    expect_zip_error(torch_records(good).build(60000), "central directory has room");
  }
  {  // A TorchScript archive is not a torch.save file.
    ZipBuilder z = torch_records(good);
    z.add("archive/constants.pkl", "\x80\x02)."s);
    expect_zip_error(z.build(), "TorchScript");
  }
}

// Header fields patched in place: offsets and sizes that point outside the file.
TEST(TorchFile, HugeDeclaredLengths) {
  const std::string good = torch_records(pickle::pickle_state_dict(sample_state_dict())).build();
  const std::size_t end = good.size() - 22;
  auto patch = [&](std::size_t pos, std::uint64_t v, int n) {
    std::string b = good;
    for (int k = 0; k < n; ++k) b[pos + k] = static_cast<char>((v >> (8 * k)) & 0xff);
    return b;
  };
  expect_zip_error(patch(end + 12, 0xffffffff, 4), "central directory");  // directory size
  expect_zip_error(patch(end + 16, 0xfffffff0, 4), "central directory");  // directory offset
  const std::size_t cd = static_cast<unsigned char>(good[end + 16]) |
                         (static_cast<unsigned char>(good[end + 17]) << 8) |
                         (static_cast<unsigned char>(good[end + 18]) << 16);
  expect_zip_error(patch(cd + 20, 0x7fffffff, 4), "outside the archive");    // compressed size
  expect_zip_error(patch(cd + 24, 0x7fffffff, 4), "compressed zip record");  // size != compressed size
  expect_zip_error(patch(cd + 42, 0x7ffffff0, 4), "no local zip header");    // local header offset
  expect_zip_error(patch(cd + 28, 0xffff, 2), "runs past the directory");    // name length
  // Two entries claiming the same bytes.
  const std::size_t second = cd + 46 + std::string("archive/data.pkl").size();
  expect_zip_error(patch(second + 42, 0, 4), "does not match");  // points at record 0
  // Zip64 locator pointing outside the file.
  std::string z64 = good.substr(0, end);
  ZipBuilder::le(z64, 0x07064b50, 4), ZipBuilder::le(z64, 0, 4), ZipBuilder::le(z64, 0xffffffffffull, 8);
  ZipBuilder::le(z64, 1, 4);
  z64 += good.substr(end);
  expect_zip_error(z64, "zip64 locator");
}

TEST(TorchFile, RandomGarbage) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string b(rng() % 600, '\0');
    for (auto& c : b) c = static_cast<char>(rng());
    if (i % 3 == 1 && b.size() >= 4) b.replace(0, 4, "PK\x03\x04");
    if (i % 3 == 2 && b.size() >= 22) b.replace(b.size() - 22, 4, "PK\x05\x06");
    EXPECT_THROW(load_bytes(b), Error) << "garbage " << i;
  }
}

TEST(CheckpointReader, FilesOnDisk) {
  const fs::path dir = testing::scratch_dir();
  const StateDict sd = sample_state_dict();
  write_torch_state_dict(dir / "sub" / "model.bin", sd);  // creates the folder, atomically
  EXPECT_TRUE(same_state_dict(read_state_dict(dir / "sub" / "model.bin"), sd));
  write_torch_state_dict(dir / "sub" / "model.bin", sd);  // overwrite
  EXPECT_FALSE(fs::exists(dir / "sub" / ("model.bin.tmp-" + std::to_string(::getpid()))));

  auto expect_file_error = [&](const std::string& name, const std::string& content, const std::string& needle) {
    std::ofstream(dir / name, std::ios::binary) << content;
    try {
      read_state_dict(dir / name);
      ADD_FAILURE() << name << ": expected rsclip::Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_file_error("empty.pt", "", "empty file");
  expect_file_error("text.pt", "hello world, this is not a checkpoint", "not a checkpoint");
  expect_file_error("legacy.pt", std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14),
                    "legacy torch.save format");
  // A zip that claims to be TorchScript (constants.pkl) but whose data.pkl is a plain state
  // dict: rsclip's TorchScript reader says so (no torch::jit::load).
  ZipBuilder fake = torch_records(pickle::pickle_state_dict(sd));
  fake.add("archive/constants.pkl", std::string("\x80\x02).", 4));
  expect_file_error("fake_script.pt", fake.build(), "data.pkl does not hold a module");
  try {
    read_state_dict(dir / "missing.pt");
    ADD_FAILURE() << "expected rsclip::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pt"), std::string::npos);
  }
}

TEST(CheckpointReader, OpenClipUnwrapping) {
  const StateDict sd = sample_state_dict();
  auto dict = [] { return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get()); };
  auto expect_error_in = [](const c10::IValue& v, const std::string& needle) {
    try {
      state_dict_from_checkpoint(v, "ckpt.pt");
      ADD_FAILURE() << "expected rsclip::Error containing " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  // {'epoch', 'name', 'state_dict': {'module.' + k: v}} -> the plain state dict.
  auto wrapped = dict();
  for (const auto& item : sd) wrapped.insert("module." + item.key(), item.value());
  auto ckpt = dict();
  ckpt.insert("epoch", int64_t{2});
  ckpt.insert("name", "run");
  ckpt.insert("state_dict", wrapped);
  EXPECT_TRUE(same_state_dict(state_dict_from_checkpoint(ckpt, "ckpt.pt"), sd));

  // A training checkpoint without 'state_dict': names the first non-tensor entry.
  auto other = dict();
  other.insert("model", wrapped);
  other.insert("epoch", int64_t{2});
  expect_error_in(other, "entry 'model' is a dict, not a tensor");
  auto not_dict = dict();
  not_dict.insert("state_dict", c10::IValue(std::vector<int64_t>{1, 2}));
  expect_error_in(not_dict, "'state_dict' is a");
  auto int_keys = dict();
  int_keys.insert(int64_t{0}, torch::zeros({1}));
  expect_error_in(int_keys, "a key of type int");
  expect_error_in(dict(), "holds no tensors");
  expect_error_in(c10::IValue(torch::zeros({1})), "holds a tensor");
  auto mixed = dict();
  mixed.insert("module.a", torch::zeros({1}));
  mixed.insert("b", torch::zeros({1}));
  expect_error_in(mixed, "lacks the 'module.' prefix");
}

TEST(CheckpointReader, GeneralTorchFileRoundTrip) {
  const fs::path dir = testing::scratch_dir();
  auto state = c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
  state.insert("step", int64_t{123456789012});
  state.insert("lr", 1e-4);
  state.insert("rng", torch::randint(0, 255, {16}, torch::kByte));
  write_torch_file(dir / "trainer.pt", state);
  const auto back = read_torch_file(dir / "trainer.pt").toGenericDict();
  EXPECT_EQ(back.at("step").toInt(), 123456789012);
  EXPECT_EQ(back.at("lr").toDouble(), 1e-4);
  EXPECT_TRUE(testing::same_bytes(back.at("rng").toTensor(), state.at("rng").toTensor()));
}

}  // namespace
}  // namespace rsclip
