#include "core/io/torchscript.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/base/error.h"

namespace rsclip {
namespace {

constexpr const char* kHint = "the file is corrupt or not a TorchScript module saved by torch.jit.save";
constexpr std::size_t kMaxModuleDepth = 64;

struct ClassInfo {
  std::vector<std::string> parameters, buffers;
};

// The strings of a one-line Python list literal: ["a", "b", ] -> {a, b}.
std::vector<std::string> string_list(std::string_view text, const std::string& where) {
  const auto open = text.find('['), close = text.rfind(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    throw Error("malformed attribute list", where, kHint);
  }
  std::vector<std::string> out;
  std::string_view rest = text.substr(open + 1, close - open - 1);
  while (true) {
    const auto q = rest.find('"');
    if (q == std::string_view::npos) break;
    const auto end = rest.find('"', q + 1);
    if (end == std::string_view::npos) throw Error("unterminated name in an attribute list", where, kHint);
    out.emplace_back(rest.substr(q + 1, end - q - 1));
    rest = rest.substr(end + 1);
  }
  return out;
}

// "__torch__/model.py" -> "__torch__.model"; "__torch__.py" -> "__torch__".
std::string module_of(const std::string& path) {
  std::string m = path.substr(0, path.size() - 3);
  for (auto& c : m) {
    if (c == '/') c = '.';
  }
  return m;
}

// Every `class NAME(Module):` of the archive's code with its __parameters__ and __buffers__.
std::map<std::string, ClassInfo> module_classes(const TorchArchive& archive) {
  std::map<std::string, ClassInfo> classes;
  for (const auto& [path, contents] : archive.code_files()) {
    const std::string_view text = contents;
    const std::string where = archive.name() + ": code/" + path;
    ClassInfo* current = nullptr;
    std::size_t pos = 0;
    while (pos < text.size()) {
      const auto nl = std::min(text.find('\n', pos), text.size());
      const std::string_view line = text.substr(pos, nl - pos);
      pos = nl + 1;
      if (line.rfind("class ", 0) == 0) {
        current = nullptr;
        const auto paren = line.find('(');
        if (paren != std::string_view::npos && line.substr(paren) == "(Module):") {
          current = &classes[module_of(path) + "." + std::string(line.substr(6, paren - 6))];
        }
      } else if (current && line.rfind("  __parameters__ = ", 0) == 0) {
        current->parameters = string_list(line, where);
      } else if (current && line.rfind("  __buffers__ = ", 0) == 0) {
        current->buffers = string_list(line, where);
      }
    }
  }
  return classes;
}

struct Walker {
  const std::map<std::string, ClassInfo>& classes;
  const std::string& where;
  StateDict out{};

  static bool is_object(const c10::IValue& v) {
    return v.isGenericDict() && v.toGenericDict().contains(c10::IValue(pickle::kScriptClassKey));
  }

  void module(const c10::IValue& object, const std::string& prefix, std::size_t depth) {
    if (depth > kMaxModuleDepth) throw Error("modules nested too deeply", where, kHint);
    const auto dict = object.toGenericDict();
    const std::string cls = dict.at(c10::IValue(pickle::kScriptClassKey)).toStringRef();
    const auto info = classes.find(cls);
    if (info == classes.end()) {
      throw Error("no definition of module class " + cls + " in the archive's code/", where, kHint);
    }
    const c10::IValue state_value = dict.at(c10::IValue(pickle::kScriptStateKey));
    if (!state_value.isGenericDict()) throw Error("module " + cls + " has no attributes", where, kHint);
    const auto state = state_value.toGenericDict();
    auto tensor = [&](const std::string& name, const char* kind) -> std::optional<at::Tensor> {
      const c10::IValue key(name);
      if (!state.contains(key)) throw Error(fmt::format("{} {} of {} is missing", kind, name, cls), where, kHint);
      const c10::IValue v = state.at(key);
      if (v.isNone()) return std::nullopt;  // an optional parameter (bias=None): not in the state dict
      if (!v.isTensor()) throw Error(fmt::format("{} {} of {} is not a tensor", kind, name, cls), where, kHint);
      return v.toTensor();
    };
    for (const auto& p : info->second.parameters) {
      if (auto t = tensor(p, "parameter")) out.insert(prefix + p, *t);
    }
    for (const auto& b : info->second.buffers) {
      if (auto t = tensor(b, "buffer")) out.insert(prefix + b, *t);
    }
    for (const auto& item : state) {
      if (is_object(item.value())) module(item.value(), prefix + item.key().toStringRef() + ".", depth + 1);
    }
  }
};

}  // namespace

StateDict read_torchscript_state_dict(const TorchArchive& archive) {
  const c10::IValue root = archive.load_script_module();
  if (!Walker::is_object(root)) throw Error("data.pkl does not hold a module", archive.name(), kHint);
  const auto classes = module_classes(archive);
  Walker walker{classes, archive.name()};
  walker.module(root, "", 0);
  if (walker.out.is_empty()) throw Error("the TorchScript module has no parameters or buffers", archive.name(), kHint);
  return std::move(walker.out);
}

}  // namespace rsclip
