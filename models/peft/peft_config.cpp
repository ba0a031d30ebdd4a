#include "models/peft/peft_config.h"

#include "core/base/config.h"
#include "core/base/error.h"
#include "models/peft/peft.h"

namespace rsclip::models::peft {
namespace {

// The visit() field lists written as JSON (typed numbers and booleans, unlike YAML scalars).
class JsonWriter {
 public:
  template <class T>
  void operator()(const char* key, const T& field) {
    json_[key] = encode(field);
  }
  template <class T>
  static nlohmann::json encode(const T& value) {
    if constexpr (config::Visitable<T>) {
      JsonWriter w;
      const_cast<T&>(value).visit(w);  // visit() is shared with the reader and so non-const
      return w.json_;
    } else {
      return nlohmann::json(value);
    }
  }

 private:
  nlohmann::json json_ = nlohmann::json::object();
};

YAML::Node to_yaml_node(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      YAML::Node map(YAML::NodeType::Map);
      for (const auto& [k, v] : j.items()) map[k] = to_yaml_node(v);
      return map;
    }
    case nlohmann::json::value_t::array: {
      YAML::Node seq(YAML::NodeType::Sequence);
      for (const auto& v : j) seq.push_back(to_yaml_node(v));
      return seq;
    }
    case nlohmann::json::value_t::string: return YAML::Node(j.get<std::string>());
    case nlohmann::json::value_t::boolean: return YAML::Node(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return YAML::Node(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: return YAML::Node(j.get<uint64_t>());
    case nlohmann::json::value_t::number_float: return YAML::Node(j.get<double>());
    default: return YAML::Node(YAML::NodeType::Null);
  }
}

}  // namespace

void PeftConfig::validate() const {
  find_method(method);  // throws with a did-you-mean
}

nlohmann::json to_json(const PeftConfig& cfg) {
  const auto all = JsonWriter::encode(cfg);
  nlohmann::json out = nlohmann::json::object();
  out["method"] = cfg.method;
  if (all.contains(cfg.method)) out[cfg.method] = all[cfg.method];
  return out;
}

PeftConfig peft_config_from_json(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) throw Error("PEFT config is not a JSON object", where);
  return config::read<PeftConfig>(to_yaml_node(json), where);
}

}  // namespace rsclip::models::peft
