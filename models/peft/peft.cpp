#include "models/peft/peft.h"

#include <set>
#include <unordered_set>

#include "core/base/config.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "models/peft/methods.h"
#include "models/peft/peft_module.h"

namespace rsclip::models::peft {
namespace {

std::string thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string percent(int64_t part, int64_t whole) {
  return whole ? fmt::format("{:.3f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole)) : "-";
}

}  // namespace

std::vector<std::string> Method::trained_base_parameters(CLIPImpl&, const PeftConfig&) const { return {}; }

const std::vector<std::unique_ptr<Method>>& registry() {
  static const auto methods = [] {
    std::vector<std::unique_ptr<Method>> m;
    m.push_back(make_full());
    m.push_back(make_lora());
    m.push_back(make_coop());
    m.push_back(make_vpt());
    m.push_back(make_houlsby());
    m.push_back(make_adaptformer());
    m.push_back(make_clip_adapter());
    m.push_back(make_mrs_adapter());
    m.push_back(make_bitfit());
    m.push_back(make_linear_probe());
    m.push_back(make_lock());
    // peft's rule: names and prefixes unique, so an adapter state dict is a name filter.
    for (std::size_t i = 0; i < m.size(); ++i) {
      const auto name = m[i]->name();
      for (char c : name)
        TORCH_CHECK(!std::isupper(static_cast<unsigned char>(c)), "method name ", name, " not lower-case");
      for (std::size_t j = 0; j < i; ++j) {
        TORCH_CHECK(m[j]->name() != name, "PEFT method ", name, " registered twice");
        const auto a = m[i]->prefix(), b = m[j]->prefix();
        if (!a.empty() && !b.empty()) {
          TORCH_CHECK(a.rfind(b, 0) != 0 && b.rfind(a, 0) != 0, "PEFT prefixes ", a, " and ", b, " overlap");
        }
      }
    }
    return m;
  }();
  return methods;
}

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& m : registry()) names.push_back(m->name());
  return names;
}

const Method& find_method(const std::string& name) {
  for (const auto& m : registry()) {
    if (m->name() == name) return *m;
  }
  std::string known;
  for (const auto& n : method_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown PEFT method '" + name + "'" + config::did_you_mean(name, method_names()), "peft.method",
              "known methods: " + known);
}

bool has_prefix_component(const std::string& name, const std::string& prefix) {
  if (prefix.empty()) return false;
  for (std::size_t start = 0; start <= name.size();) {
    if (name.compare(start, prefix.size(), prefix) == 0) return true;
    const auto dot = name.find('.', start);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return false;
}

bool is_adapter_parameter(const std::string& name) {
  for (const auto& m : registry()) {
    if (has_prefix_component(name, m->prefix())) return true;
  }
  return false;
}

std::vector<std::string> method_parameter_names(CLIPImpl& model, const PeftConfig& cfg) {
  const Method& method = find_method(cfg.method);
  std::vector<std::string> names;
  for (const auto& p : model.named_parameters()) {
    if (has_prefix_component(p.key(), method.prefix())) names.push_back(p.key());
  }
  for (auto& n : method.trained_base_parameters(model, cfg)) names.push_back(std::move(n));
  return names;
}

PeftReport apply_method(CLIPImpl& model, const PeftConfig& cfg) {
  const Method& method = find_method(cfg.method);
  for (const auto& item : model.named_modules()) {
    if (const auto* m = dynamic_cast<const PeftModule*>(item.value().get())) {
      throw Error("the model already carries PEFT method '" + m->method() + "' (" + item.key() + ")", "peft.apply",
                  "apply a method to a base model once");
    }
  }
  std::set<std::string> before;
  for (const auto& p : model.named_parameters()) {
    if (is_adapter_parameter(p.key())) {
      throw Error("the model already has adapter parameter " + p.key(), "peft.apply", "apply a method once");
    }
    before.insert(p.key());
  }

  method.attach(model, cfg);

  std::set<std::string> after;
  for (const auto& p : model.named_parameters()) {
    after.insert(p.key());
    TORCH_CHECK(before.count(p.key()) || has_prefix_component(p.key(), method.prefix()), "method ", method.name(),
                " added parameter ", p.key(), " without its prefix ", method.prefix());
  }
  for (const auto& name : before) TORCH_CHECK(after.count(name), "method ", method.name(), " removed ", name);

  const auto names = method_parameter_names(model, cfg);
  const std::unordered_set<std::string> train(names.begin(), names.end());
  for (const auto& n : names) TORCH_CHECK(after.count(n), "method ", method.name(), " trains unknown parameter ", n);
  for (auto& p : model.named_parameters()) p.value().set_requires_grad(train.count(p.key()) > 0);

  return report(model, method.name());
}

PeftReport report(CLIPImpl& model, const std::string& method) {
  std::unordered_set<const void*> image, text;
  for (const auto& p : model.visual->parameters()) image.insert(p.unsafeGetTensorImpl());
  for (const auto& p : model.text->parameters()) text.insert(p.unsafeGetTensorImpl());
  PeftReport r;
  r.method = method;
  for (const auto& p : model.parameters()) {
    const void* id = p.unsafeGetTensorImpl();
    TowerCount& c = image.count(id) ? r.image : text.count(id) ? r.text : r.shared;
    c.total += p.numel();
    if (p.requires_grad()) c.trainable += p.numel();
  }
  return r;
}

std::string PeftReport::table() const {
  std::string out = fmt::format("PEFT method '{}': trainable parameters\n  {:<7} {:>14} {:>14} {:>9}", method, "tower",
                                "trainable", "total", "%");
  auto row = [&](const char* name, int64_t t, int64_t n) {
    out += fmt::format("\n  {:<7} {:>14} {:>14} {:>9}", name, thousands(t), thousands(n), percent(t, n));
  };
  row("image", image.trainable, image.total);
  row("text", text.trainable, text.total);
  row("shared", shared.trainable, shared.total);
  row("all", trainable(), total());
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> trainable_parameters(CLIPImpl& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : model.named_parameters()) {
    if (p.value().requires_grad()) out.emplace_back(p.key(), p.value());
  }
  return out;
}

}  // namespace rsclip::models::peft
