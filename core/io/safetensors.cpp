#include "core/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/mapped_file.h"

namespace rsclip {
namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the reference library's limit

struct DtypeName {
  const char* name;
  torch::ScalarType type;
};
constexpr DtypeName kDtypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

torch::ScalarType dtype_from_name(const std::string& name, const std::string& where) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return d.type;
  }
  throw Error("unsupported dtype '" + name + "'", where, "rsclip reads F64/F32/F16/BF16/I64/I32/I16/I8/U8/BOOL");
}

const char* dtype_name(torch::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (type == d.type) return d.name;
  }
  throw Error(std::string("cannot write dtype ") + c10::toString(type) + " to safetensors");
}

struct Entry {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  std::uint64_t begin, end;
};

// One tensor entry of the header, every size checked against the `data_size` bytes of data.
Entry parse_entry(const std::string& name, const nlohmann::json& t, std::uint64_t data_size, const std::string& where) {
  if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets") ||
      !t["dtype"].is_string() || !t["shape"].is_array() || !t["data_offsets"].is_array() ||
      t["data_offsets"].size() != 2) {
    throw Error("tensor entry needs dtype (string), shape (list) and data_offsets ([begin, end])", where);
  }
  Entry e{name, dtype_from_name(t["dtype"].get<std::string>(), where), {}, 0, 0};
  // c10 multiplies all sizes with overflow checks even when one is zero, so the product
  // of the non-zero sizes must fit in int64 too.
  std::uint64_t numel = 1, nonzero = 1;
  for (const auto& d : t["shape"]) {
    if (!d.is_number_unsigned()) throw Error("shape entries must be non-negative integers", where);
    const auto dim = d.get<std::uint64_t>();
    if (dim > static_cast<std::uint64_t>(INT64_MAX) ||
        (dim != 0 && nonzero > static_cast<std::uint64_t>(INT64_MAX) / dim)) {
      throw Error("shape overflows", where);
    }
    numel *= dim;
    if (dim != 0) nonzero *= dim;
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  for (int k = 0; k < 2; ++k) {
    if (!t["data_offsets"][k].is_number_unsigned()) throw Error("data_offsets must be non-negative integers", where);
  }
  e.begin = t["data_offsets"][0].get<std::uint64_t>();
  e.end = t["data_offsets"][1].get<std::uint64_t>();
  const std::uint64_t elem = c10::elementSize(e.dtype);
  if (numel > UINT64_MAX / elem) throw Error("tensor size overflows", where);
  if (e.end < e.begin || e.end > data_size) {
    throw Error(fmt::format("data_offsets [{}, {}] outside the data ({} bytes)", e.begin, e.end, data_size), where,
                "the file is truncated or corrupt");
  }
  if (e.end - e.begin != numel * elem) {
    throw Error(fmt::format("data_offsets span {} bytes but shape and dtype need {}", e.end - e.begin, numel * elem),
                where);
  }
  return e;
}

// The format forbids holes and overlaps: sorted by offset, each tensor starts where the
// previous ended and the last ends at the end of the data.
void check_layout(std::vector<Entry>& entries, std::uint64_t data_size, const std::string& file) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  std::uint64_t expected = 0;
  for (const auto& e : entries) {
    if (e.begin != expected) {
      throw Error(e.begin < expected ? "tensor data overlaps the previous tensor" : "gap before tensor data",
                  file + ": " + e.name);
    }
    expected = e.end;
  }
  if (expected != data_size) throw Error("trailing bytes after the last tensor", file);
}

}  // namespace

StateDict parse_safetensors(std::string_view bytes, const std::string& file, Metadata* metadata) {
  if (bytes.size() < 8)
    throw Error("file too short for a safetensors header (" + std::to_string(bytes.size()) + " bytes)", file);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8) {
    throw Error("header length " + std::to_string(header_len) + " exceeds the file (" + std::to_string(bytes.size()) +
                    " bytes)",
                file, "the file is truncated or not safetensors");
  }
  const std::string_view header_text = bytes.substr(8, header_len);
  const std::string_view data = bytes.substr(8 + header_len);

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("header is not valid JSON: ") + e.what(), file);
  }
  if (!header.is_object()) throw Error("header is not a JSON object", file);

  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string where = file + ": " + it.key();
    if (it.key() != "__metadata__") {
      entries.push_back(parse_entry(it.key(), *it, data.size(), where));
      continue;
    }
    if (!it->is_object()) throw Error("__metadata__ must be an object of strings", where);
    for (auto m = it->begin(); m != it->end(); ++m) {
      if (!m->is_string()) throw Error("__metadata__ value is not a string", where + "." + m.key());
      if (metadata) (*metadata)[m.key()] = m->get<std::string>();
    }
  }
  check_layout(entries, data.size(), file);

  StateDict out;
  for (const auto& e : entries) {
    auto tensor = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype));
    if (e.end > e.begin) std::memcpy(tensor.data_ptr(), data.data() + e.begin, e.end - e.begin);
    if (out.contains(e.name)) throw Error("duplicate tensor name", file + ": " + e.name);
    out.insert(e.name, std::move(tensor));
  }
  return out;
}

StateDict load_safetensors(const std::filesystem::path& path, Metadata* metadata) {
  const MappedFile file(path);  // no second in-memory copy of multi-GB files
  return parse_safetensors(file.bytes(), path.string(), metadata);
}

void save_safetensors(const std::filesystem::path& path, const StateDict& tensors, const Metadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> payload;
  std::uint64_t offset = 0;
  for (const auto& item : tensors) {
    auto t = item.value().detach().to(torch::kCPU).contiguous();
    const std::uint64_t size = static_cast<std::uint64_t>(t.numel()) * t.element_size();
    header[item.key()] = {
        {"dtype", dtype_name(t.scalar_type())}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + size}}};
    offset += size;
    payload.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  write_file_atomic(path, [&](const std::filesystem::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    std::uint64_t n = text.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : payload) {
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    }
    out.close();
    if (!out) throw Error("write failed (disk full?)", tmp.string());
  });
}

}  // namespace rsclip
