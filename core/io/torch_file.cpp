#include "core/io/torch_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include <c10/core/CPUAllocator.h>
#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>

#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace rsclip {
namespace {

// caffe2/serialize/versions.h: kMinSupportedFileFormatVersion .. kMaxSupportedFileFormatVersion.
constexpr std::uint64_t kMinFormatVersion = 0x1;
constexpr std::uint64_t kMaxFormatVersion = 0xA;

std::string trimmed(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

void byteswap(char* data, std::size_t nbytes, std::size_t elem) {
  for (std::size_t i = 0; i + elem <= nbytes; i += elem) std::reverse(data + i, data + i + elem);
}

}  // namespace

TorchArchive::TorchArchive(std::string_view bytes, std::string name) : zip_(bytes, std::move(name)) {
  // Like PyTorchStreamReader: the folder of the first record names the archive.
  if (zip_.entries().empty()) throw Error("empty zip archive", zip_.name(), "not a torch.save file");
  const std::string& first = zip_.entries().front().name;
  const auto slash = first.find('/');
  if (slash == std::string::npos || slash == 0) {
    throw Error("zip record '" + first + "' is not inside a folder", zip_.name(), "not a torch.save file");
  }
  prefix_ = first.substr(0, slash + 1);

  const ZipArchive::Entry* version = zip_.find(record(".data/version"));
  if (!version) version = zip_.find(record("version"));
  if (!version) throw Error("no version record", zip_.name(), "the file is incomplete or not a torch.save file");
  const std::string text = trimmed(zip_.read(version->name));
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoull(text) < kMinFormatVersion || std::stoull(text) > kMaxFormatVersion) {
    throw Error(fmt::format("unsupported torch file format version '{}'", text.substr(0, 20)), version->name,
                "rsclip reads versions 1-10 (torch >= 1.6)");
  }
  if (zip_.find(record("byteorder"))) {
    const std::string order(zip_.read(record("byteorder")));
    if (order != "little" && order != "big") {
      throw Error("byteorder record is '" + order.substr(0, 20) + "'", zip_.name(), "the file is corrupt");
    }
    big_endian_ = order == "big";
  }
}

bool TorchArchive::is_torchscript() const { return zip_.find(record("constants.pkl")) != nullptr; }

c10::IValue TorchArchive::load() const {
  if (is_torchscript()) {
    throw Error("this is a TorchScript archive, not a torch.save file", zip_.name(),
                "read it with read_state_dict (OpenAI .pt files are TorchScript)");
  }
  return load_pickle({});
}

c10::IValue TorchArchive::load_script_module() const {
  if (!is_torchscript()) throw Error("not a TorchScript archive (no constants.pkl)", zip_.name());
  pickle::UnpickleOptions options;
  options.script_objects = true;
  return load_pickle(options);
}

std::vector<std::pair<std::string, std::string>> TorchArchive::code_files() const {
  constexpr std::size_t kMaxCodeFile = std::size_t{16} << 20;
  std::vector<std::pair<std::string, std::string>> out;
  const std::string code = record("code/");
  for (const auto& e : zip_.entries()) {
    if (e.name.rfind(code, 0) == 0 && e.name.size() > 3 && e.name.compare(e.name.size() - 3, 3, ".py") == 0) {
      out.emplace_back(e.name.substr(code.size()), zip_.read_small(e.name, kMaxCodeFile));
    }
  }
  return out;
}

c10::IValue TorchArchive::load_pickle(const pickle::UnpickleOptions& options) const {
  struct Loaded {
    c10::Storage storage;
    std::size_t swapped_elem;
  };
  std::map<std::string, Loaded> cache;
  const pickle::StorageLoader loader = [&](const pickle::StorageRef& ref) -> c10::Storage {
    const std::string name = record("data/" + ref.key);
    const std::size_t elem = c10::elementSize(ref.dtype);
    if (auto it = cache.find(ref.key); it != cache.end()) {
      if (big_endian_ && it->second.swapped_elem != elem) {
        throw Error("big-endian storage viewed with element sizes " + std::to_string(it->second.swapped_elem) +
                        " and " + std::to_string(elem),
                    zip_.name() + ": " + name);
      }
      return it->second.storage;
    }
    const std::string_view bytes = zip_.read(name);
    if (static_cast<std::uint64_t>(ref.numel) * elem != bytes.size()) {
      throw Error(fmt::format("storage record has {} bytes but the pickle declares {} x {} bytes", bytes.size(),
                              ref.numel, elem),
                  zip_.name() + ": " + name, "the file is corrupt");
    }
    // The record's size is backed by the file (ZipArchive checked it), so this allocation
    // is bounded by the input.
    c10::Storage storage(c10::Storage::use_byte_size_t(), bytes.size(), c10::GetCPUAllocator(),
                         /*resizable=*/false);
    if (!bytes.empty()) std::memcpy(storage.mutable_data(), bytes.data(), bytes.size());
    if (big_endian_ && elem > 1) byteswap(static_cast<char*>(storage.mutable_data()), bytes.size(), elem);
    cache.emplace(ref.key, Loaded{storage, elem});
    return storage;
  };
  const std::string pkl = record("data.pkl");
  return pickle::unpickle(zip_.read(pkl), loader, zip_.name() + ": " + pkl, options);
}

void write_torch_zip(const pickle::Pickled& pickled, const std::function<bool(const char*, std::size_t)>& sink) {
  // The sink reports failure by returning false; the writer (miniz underneath) then sees a
  // short write and throws, so no exception crosses miniz's C code.
  try {
    // The archive folder is "archive", as for torch.save into a buffer.
    caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t n) -> std::size_t {
      return sink(static_cast<const char*>(data), n) ? n : 0;
    });
    // Records in torch.serialization._save's order.
    const std::string format_version = "1", alignment = "64", byteorder = "little";
    writer.writeRecord("data.pkl", pickled.data.data(), pickled.data.size());
    writer.writeRecord(".format_version", format_version.data(), format_version.size());
    writer.writeRecord(".storage_alignment", alignment.data(), alignment.size());
    writer.writeRecord("byteorder", byteorder.data(), byteorder.size());
    for (std::size_t i = 0; i < pickled.storages.size(); ++i) {
      const auto& s = pickled.storages[i];
      writer.writeRecord("data/" + std::to_string(i), s.data(), s.nbytes());
    }
    writer.writeEndOfFile();  // adds version and .data/serialization_id
  } catch (const c10::Error& e) {
    throw Error(std::string("writing the torch zip failed: ") + e.what_without_backtrace());
  }
}

void write_torch_zip(const std::filesystem::path& path, const pickle::Pickled& pickled) {
  write_file_atomic(path, [&](const std::filesystem::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot create file", tmp.string());
    try {
      write_torch_zip(pickled, [&](const char* data, std::size_t n) {
        out.write(data, static_cast<std::streamsize>(n));
        return static_cast<bool>(out);
      });
    } catch (const Error& e) {
      throw e.within(tmp.string());
    }
    out.close();
    if (!out) throw Error("write failed (disk full?)", tmp.string());
  });
}

}  // namespace rsclip
