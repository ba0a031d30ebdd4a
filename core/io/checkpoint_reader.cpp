#include "core/io/checkpoint_reader.h"

#include <array>

#include <fmt/format.h>

#include "core/base/error.h"
#include "core/base/mapped_file.h"
#include "core/io/pickle.h"
#include "core/io/safetensors.h"
#include "core/io/torch_file.h"
#include "core/io/torchscript.h"

namespace rsclip {
namespace {

constexpr const char* kStateDictHint =
    "rsclip reads a state dict (name -> tensor) or a dict holding one under 'state_dict'";

// open_clip's load_state_dict drops these from OpenAI's TorchScript state dicts.
constexpr std::array<const char*, 3> kTorchScriptExtras = {"input_resolution", "context_length", "vocab_size"};

// Python's name for an IValue's type, for messages.
std::string describe(const c10::IValue& v) {
  if (v.isTensor()) return "tensor";
  if (v.isGenericDict()) return "dict";
  if (v.isList()) return "list";
  if (v.isTuple()) return "tuple";
  if (v.isString()) return "str";
  if (v.isInt()) return "int";
  if (v.isDouble()) return "float";
  if (v.isBool()) return "bool";
  if (v.isNone()) return "None";
  return v.tagKind();
}

// open_clip's load_openai_model: the TorchScript model's state dict without these.
StateDict drop_openai_extras(const StateDict& all) {
  StateDict out;
  for (const auto& item : all) {
    if (std::find(kTorchScriptExtras.begin(), kTorchScriptExtras.end(), item.key()) == kTorchScriptExtras.end()) {
      out.insert(item.key(), item.value());
    }
  }
  return out;
}

// open_clip checks only the first key ("startswith('module')") and then cuts 7 characters
// from every key; we require the whole 'module.' prefix on all keys instead of mangling.
StateDict strip_module_prefix(StateDict sd, const std::string& where) {
  constexpr std::string_view kPrefix = "module.";
  if (sd.is_empty() || sd.begin()->key().rfind(kPrefix, 0) != 0) return sd;
  StateDict out;
  for (const auto& item : sd) {
    if (item.key().rfind(kPrefix, 0) != 0) {
      throw Error("key '" + item.key() + "' lacks the 'module.' prefix that the first key has", where,
                  "the state dict mixes wrapped (DistributedDataParallel) and plain names");
    }
    out.insert(item.key().substr(kPrefix.size()), item.value());
  }
  return out;
}

}  // namespace

CheckpointFormat detect_checkpoint_format(std::string_view bytes) {
  auto starts = [&](std::string_view magic) { return bytes.substr(0, magic.size()) == magic; };
  if (starts("PK\x03\x04") || starts(std::string_view("PK\x05\x06", 4))) return CheckpointFormat::kTorchZip;
  if (bytes.size() >= 9 && bytes[8] == '{') {
    std::uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
    if (header_len <= bytes.size() - 8) return CheckpointFormat::kSafetensors;
  }
  // torch < 1.6 wrote a bare pickle stream starting with a protocol-2 magic number.
  if (starts("\x80\x02")) return CheckpointFormat::kLegacyTorch;
  return CheckpointFormat::kUnknown;
}

StateDict state_dict_from_checkpoint(const c10::IValue& checkpoint, const std::string& where) {
  if (!checkpoint.isGenericDict()) {
    throw Error("the file holds a " + describe(checkpoint) + ", not a dict of tensors", where, kStateDictHint);
  }
  c10::impl::GenericDict dict = checkpoint.toGenericDict();
  std::string location = where;
  const c10::IValue state_key("state_dict");
  if (dict.contains(state_key)) {
    const c10::IValue inner = dict.at(state_key);
    location += ": state_dict";
    if (!inner.isGenericDict()) {
      throw Error("'state_dict' is a " + describe(inner) + ", not a dict of tensors", where, kStateDictHint);
    }
    dict = inner.toGenericDict();
  }
  StateDict out;
  for (const auto& item : dict) {
    if (!item.key().isString()) {
      throw Error("a key of type " + describe(item.key()) + " where parameter names are expected", location,
                  kStateDictHint);
    }
    const std::string& name = item.key().toStringRef();
    if (!item.value().isTensor()) {
      throw Error(fmt::format("entry '{}' is a {}, not a tensor", name, describe(item.value())), location,
                  kStateDictHint);
    }
    out.insert(name, item.value().toTensor());
  }
  if (out.is_empty()) throw Error("the state dict holds no tensors", location, kStateDictHint);
  return strip_module_prefix(std::move(out), location);
}

StateDict read_state_dict(const std::filesystem::path& path) {
  const MappedFile file(path);
  const std::string where = path.string();
  switch (detect_checkpoint_format(file.bytes())) {
    case CheckpointFormat::kSafetensors: {
      StateDict sd = parse_safetensors(file.bytes(), where);
      if (sd.is_empty()) throw Error("the safetensors file holds no tensors", where);
      return strip_module_prefix(std::move(sd), where);
    }
    case CheckpointFormat::kTorchZip: {
      const TorchArchive archive(file.bytes(), where);
      if (archive.is_torchscript())
        return strip_module_prefix(drop_openai_extras(read_torchscript_state_dict(archive)), where);
      return state_dict_from_checkpoint(archive.load(), where);
    }
    case CheckpointFormat::kLegacyTorch:
      throw Error("legacy torch.save format (PyTorch < 1.6) is not supported", where,
                  "re-save it with a current torch: torch.save(torch.load(path), path)");
    case CheckpointFormat::kUnknown: break;
  }
  throw Error(file.bytes().empty() ? "empty file" : "not a checkpoint (neither safetensors nor a torch zip archive)",
              where, "rsclip reads .safetensors, torch.save files and TorchScript .pt archives");
}

c10::IValue read_torch_file(const std::filesystem::path& path) {
  const MappedFile file(path);
  if (detect_checkpoint_format(file.bytes()) != CheckpointFormat::kTorchZip) {
    throw Error("not a torch.save zip archive", path.string(), "the file is corrupt or in another format");
  }
  return TorchArchive(file.bytes(), path.string()).load();
}

void write_torch_state_dict(const std::filesystem::path& path, const StateDict& state_dict) {
  write_torch_zip(path, pickle::pickle_state_dict(state_dict));
}

void write_torch_file(const std::filesystem::path& path, const c10::IValue& value) {
  write_torch_zip(path, pickle::pickle_value(value));
}

}  // namespace rsclip
