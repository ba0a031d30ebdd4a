// The typed config tree. A YAML file (with `inherit:` bases and dotted `--set a.b=c`
// overrides) is read into plain structs; every struct lists its fields once in
//
//   template <class V> void visit(V& v) { v("lr", lr); v("warmup", warmup); ... }
//
// and that one list serves reading (unknown keys are errors with a did-you-mean), writing
// the resolved config back out, and nothing else. A struct may add `void validate() const`
// which is called after reading and throws rsclip::Error for bad values.
#pragma once

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/base/error.h"

namespace rsclip::config {

// Loads a YAML file. A top-level `inherit:` (a path relative to the file, or a list of
// them) is loaded first and this file is deep-merged over it: maps merge key by key,
// anything else replaces.
YAML::Node load_file(const std::filesystem::path& path);

// Deep-merges `over` onto `base` (in place), as `inherit:` does.
void merge(YAML::Node& base, const YAML::Node& over);

// Applies one "a.b.c=value" override; the value is parsed as YAML (1e-4, true, [a, b], text).
void apply_override(YAML::Node& root, const std::string& assignment);

// Levenshtein distance (insertions, deletions, substitutions), for did-you-mean hints.
std::size_t edit_distance(const std::string& a, const std::string& b);

// The closest of `known` to `key` as " (did you mean 'x'?)", or "" if none is close.
std::string did_you_mean(const std::string& key, const std::vector<std::string>& known);

// Emits YAML text (block style) for a node.
std::string to_yaml(const YAML::Node& node);

template <class T>
concept Visitable = requires(T& t) {
  t.visit(std::declval<int&>());
};  // a template visit(V&)

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

template <class T>
concept HasValidate = requires(const T& t) {
  t.validate();
};

// ----- reading -------------------------------------------------------------------------
class Reader {
 public:
  Reader(YAML::Node node, std::string where) : node_(std::move(node)), where_(std::move(where)) {}

  template <class T>
  void operator()(const char* key, T& field) {
    known_.emplace_back(key);
    const YAML::Node& self = node_;
    YAML::Node child = self[key];
    if (!child.IsDefined()) return;  // absent: keep the default
    decode(child, field, join(key));
  }

  // Throws for keys present in the node that no field consumed.
  void finish() const;

  template <class T>
  static void decode(const YAML::Node& node, T& out, const std::string& where);

 private:
  std::string join(const char* key) const { return where_.empty() ? key : where_ + "." + key; }
  YAML::Node node_;
  std::string where_;
  std::vector<std::string> known_;
};

[[noreturn]] void throw_type_error(const YAML::Node& node, const std::string& where, const char* expected);

template <class T>
void Reader::decode(const YAML::Node& node, T& out, const std::string& where) {
  if constexpr (std::is_same_v<T, YAML::Node>) {
    out = YAML::Clone(node);
  } else if constexpr (Visitable<T>) {
    if (!node.IsMap() && !node.IsNull()) throw_type_error(node, where, "a mapping");
    Reader sub(node.IsNull() ? YAML::Node(YAML::NodeType::Map) : node, where);
    out.visit(sub);
    sub.finish();
    if constexpr (HasValidate<T>) {
      try {
        out.validate();
      } catch (const Error& e) {
        throw e.within(where);
      }
    }
  } else if constexpr (
      requires { typename T::value_type; } && !std::is_same_v<T, std::string> && requires(T t) { t.has_value(); }) {
    if (node.IsNull()) {
      out.reset();
    } else {
      typename T::value_type value{};
      if (out.has_value()) value = *out;
      decode(node, value, where);
      out = std::move(value);
    }
  } else if constexpr (is_std_array<T>::value) {
    if (!node.IsSequence() || node.size() != std::tuple_size_v<T>) {
      throw_type_error(node, where, ("a list of " + std::to_string(std::tuple_size_v<T>) + " values").c_str());
    }
    for (std::size_t i = 0; i < out.size(); ++i) decode(node[i], out[i], where + "[" + std::to_string(i) + "]");
  } else if constexpr (requires(T t) { t.push_back(std::declval<typename T::value_type>()); } &&
                       !std::is_same_v<T, std::string>) {
    if (!node.IsSequence()) throw_type_error(node, where, "a list");
    out.clear();
    for (std::size_t i = 0; i < node.size(); ++i) {
      typename T::value_type item{};
      decode(node[i], item, where + "[" + std::to_string(i) + "]");
      out.push_back(std::move(item));
    }
  } else if constexpr (requires { typename T::mapped_type; }) {
    if (!node.IsMap()) throw_type_error(node, where, "a mapping");
    out.clear();
    for (const auto& kv : node) {
      const auto key = kv.first.as<std::string>();
      typename T::mapped_type item{};
      decode(kv.second, item, where + "." + key);
      out.emplace(key, std::move(item));
    }
  } else {
    if (!node.IsScalar()) throw_type_error(node, where, "a single value");
    try {
      out = node.as<T>();
    } catch (const YAML::BadConversion&) {
      if constexpr (std::is_same_v<T, bool>)
        throw_type_error(node, where, "true or false");
      else if constexpr (std::is_integral_v<T>)
        throw_type_error(node, where, "an integer");
      else if constexpr (std::is_floating_point_v<T>)
        throw_type_error(node, where, "a number");
      else
        throw_type_error(node, where, "a string");
    }
  }
}

// Reads a whole struct from `node`; `where` names the source for errors (file name).
template <class T>
T read(const YAML::Node& node, const std::string& where = {}) {
  T out{};
  try {
    Reader::decode(node, out, "");
  } catch (const Error& e) {
    throw where.empty() ? e : e.within(where);
  }
  return out;
}

// ----- writing -------------------------------------------------------------------------
class Writer {
 public:
  template <class T>
  void operator()(const char* key, const T& field) {
    node_[key] = encode(field);
  }
  template <class T>
  static YAML::Node encode(const T& value);
  YAML::Node node() const { return node_; }

 private:
  YAML::Node node_{YAML::NodeType::Map};
};

template <class T>
YAML::Node Writer::encode(const T& value) {
  if constexpr (std::is_same_v<T, YAML::Node>) {
    return YAML::Clone(value);
  } else if constexpr (Visitable<T>) {
    Writer w;
    const_cast<T&>(value).visit(w);  // visit() is shared with Reader and so non-const
    return w.node();
  } else if constexpr (
      requires { typename T::value_type; } && !std::is_same_v<T, std::string> && requires(T t) { t.has_value(); }) {
    return value.has_value() ? encode(*value) : YAML::Node(YAML::NodeType::Null);
  } else if constexpr (requires(T t) { t.push_back(std::declval<typename T::value_type>()); } &&
                       !std::is_same_v<T, std::string>) {
    YAML::Node seq(YAML::NodeType::Sequence);
    for (const auto& item : value) seq.push_back(encode(item));
    return seq;
  } else if constexpr (requires { typename T::mapped_type; }) {
    YAML::Node map(YAML::NodeType::Map);
    for (const auto& [k, v] : value) map[k] = encode(v);
    return map;
  } else {
    return YAML::Node(value);
  }
}

template <class T>
YAML::Node write(const T& value) {
  return Writer::encode(value);
}

}  // namespace rsclip::config
