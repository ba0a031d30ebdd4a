#include "models/peft/adapter_io.h"

#include <set>

#include "core/base/error.h"
#include "core/base/log.h"
#include "models/clip/load_state.h"
#include "models/peft/peft_module.h"

namespace rsclip::models::peft {
namespace {

constexpr const char* kFormat = "rsclip.peft";
constexpr const char* kFormatVersion = "1";

std::string shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// The PEFT modules of the model with their full names.
std::vector<std::pair<std::string, PeftModule*>> peft_modules(CLIPImpl& model) {
  std::vector<std::pair<std::string, PeftModule*>> out;
  for (const auto& item : model.named_modules()) {
    if (auto* m = dynamic_cast<PeftModule*>(item.value().get())) out.emplace_back(item.key(), m);
  }
  return out;
}

void require_mergeable(const std::vector<std::pair<std::string, PeftModule*>>& modules, const char* what) {
  for (const auto& [name, m] : modules) {
    if (!m->mergeable()) {
      throw Error(
          "PEFT method '" + m->method() + "' cannot be " + what + " into open_clip's weights (" + name +
              " adds computation open_clip's CLIP does not have)",
          "peft.export",
          "export the base checkpoint together with the adapter file (save_adapter) and load both (--peft FILE)");
    }
  }
}

}  // namespace

void PeftModule::check_merge(const std::string&) const {}
void PeftModule::merge() { TORCH_CHECK(false, "PEFT method ", method(), " is not mergeable"); }
void PeftModule::unmerge() { TORCH_CHECK(false, "PEFT method ", method(), " is not mergeable"); }
void PeftModule::export_merged(const std::string&, StateDict&) const {
  TORCH_CHECK(false, "PEFT method ", method(), " is not mergeable");
}

void save_adapter(const std::filesystem::path& path, CLIPImpl& model, const PeftConfig& cfg) {
  const auto names = method_parameter_names(model, cfg);
  const std::set<std::string> wanted(names.begin(), names.end());
  StateDict tensors;
  for (const auto& p : model.named_parameters()) {
    if (wanted.count(p.key())) tensors.insert(p.key(), p.value().detach().cpu().contiguous());
  }
  TORCH_CHECK(tensors.size() == wanted.size(), "adapter names not found in the model");
  const Metadata meta{{"format", kFormat},
                      {"format_version", kFormatVersion},
                      {"method", cfg.method},
                      {"peft_config", to_json(cfg).dump()},
                      {"model", model.cfg.name}};
  save_safetensors(path, tensors, meta);
  log::info("saved {} adapter tensors ({} method) to {}", tensors.size(), cfg.method, path.string());
}

PeftConfig read_adapter_config(const std::filesystem::path& path) {
  Metadata meta;
  load_safetensors(path, &meta);
  const auto where = path.string();
  auto field = [&](const char* key) {
    auto it = meta.find(key);
    if (it == meta.end()) {
      throw Error(std::string("no '") + key + "' in the file's __metadata__", where,
                  "not an rsclip adapter file (written by save_adapter)");
    }
    return it->second;
  };
  if (field("format") != kFormat) throw Error("format is '" + field("format") + "', not " + kFormat, where);
  if (field("format_version") != kFormatVersion) {
    throw Error("adapter format version " + field("format_version") + " is not supported (this build reads " +
                    kFormatVersion + ")",
                where);
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(field("peft_config"));
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("peft_config metadata is not valid JSON: ") + e.what(), where);
  }
  auto cfg = peft_config_from_json(json, where + ": peft_config");
  if (cfg.method != field("method")) throw Error("method field disagrees with peft_config", where);
  return cfg;
}

void load_adapter_tensors(CLIPImpl& model, const PeftConfig& cfg, const StateDict& state, const std::string& where) {
  const auto names = method_parameter_names(model, cfg);
  auto params = model.named_parameters();
  LoadReport report;
  const std::set<std::string> wanted(names.begin(), names.end());
  for (const auto& n : names) {
    if (!state.contains(n)) report.missing.push_back(n);
  }
  for (const auto& item : state) {
    if (!wanted.count(item.key())) {
      report.unexpected.push_back(item.key());
    } else if (!item.value().sizes().equals(params[item.key()].sizes())) {
      report.mismatched.push_back(item.key() + ": file " + shape_string(item.value()) + " vs model " +
                                  shape_string(params[item.key()]));
    }
  }
  if (!report.clean()) {
    throw Error("adapter file does not match the model with method '" + cfg.method + "' applied" + report.describe(),
                where, "use the base model config and PEFT settings the adapter was trained with");
  }
  torch::NoGradGuard no_grad;
  for (const auto& item : state) params[item.key()].copy_(item.value());
  log::debug("loaded {} adapter tensors ({} method) from {}", state.size(), cfg.method, where);
}

void load_adapter_weights(CLIPImpl& model, const PeftConfig& cfg, const std::filesystem::path& path) {
  load_adapter_tensors(model, cfg, load_safetensors(path), path.string());
}

PeftConfig apply_adapter_file(CLIPImpl& model, const std::filesystem::path& path) {
  auto cfg = read_adapter_config(path);
  apply_method(model, cfg);
  load_adapter_weights(model, cfg, path);
  return cfg;
}

void merge(CLIPImpl& model) {
  const auto modules = peft_modules(model);
  require_mergeable(modules, "merged");
  for (const auto& [name, m] : modules) {
    if (!m->merged()) m->check_merge(name);
  }
  for (const auto& [name, m] : modules) {
    if (!m->merged()) m->merge();
  }
}

void unmerge(CLIPImpl& model) {
  for (const auto& [name, m] : peft_modules(model)) {
    if (m->mergeable() && m->merged()) m->unmerge();
  }
}

StateDict export_state_dict(CLIPImpl& model) {
  const auto modules = peft_modules(model);
  require_mergeable(modules, "exported");
  for (const auto& [name, m] : modules) {
    if (!m->merged()) m->check_merge(name);
  }
  StateDict merged;
  for (const auto& [name, m] : modules) m->export_merged(name, merged);
  StateDict out;
  torch::NoGradGuard no_grad;
  for (const auto& item : model_state_dict(model)) {
    if (is_adapter_parameter(item.key())) continue;
    const auto* m = merged.find(item.key());
    out.insert(item.key(), m ? *m : item.value().detach().clone());
  }
  for (const auto& item : merged)
    TORCH_CHECK(out.contains(item.key()), "merged tensor ", item.key(), " is no base parameter");
  return out;
}

}  // namespace rsclip::models::peft
