#include "core/base/config.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace rsclip::config {
namespace fs = std::filesystem;
namespace {

YAML::Node load_with_bases(const fs::path& path, std::set<fs::path>& active) {
  const fs::path canonical = fs::weakly_canonical(path);
  if (active.count(canonical)) throw Error("`inherit:` forms a cycle", path.string());
  if (!fs::exists(path)) {
    throw Error("config file not found", path.string(), "paths in `inherit:` are relative to the file naming them");
  }
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    throw Error("invalid YAML: " + e.msg, fmt::format("{}:{}:{}", path.string(), e.mark.line + 1, e.mark.column + 1));
  }
  if (doc.IsNull()) doc = YAML::Node(YAML::NodeType::Map);
  if (!doc.IsMap()) throw Error("a config file must be a mapping at the top level", path.string());
  const YAML::Node bases = doc["inherit"];
  if (!bases.IsDefined()) return doc;

  active.insert(canonical);
  YAML::Node merged(YAML::NodeType::Map);
  std::vector<std::string> base_paths;
  if (bases.IsScalar())
    base_paths.push_back(bases.as<std::string>());
  else if (bases.IsSequence())
    for (const auto& b : bases) base_paths.push_back(b.as<std::string>());
  else
    throw Error("`inherit:` must be a path or a list of paths", path.string());
  for (const auto& base : base_paths) merge(merged, load_with_bases(path.parent_path() / base, active));
  active.erase(canonical);
  doc.remove("inherit");
  merge(merged, doc);
  return merged;
}

}  // namespace

void merge(YAML::Node& base, const YAML::Node& over) {
  for (const auto& kv : over) {
    const auto key = kv.first.as<std::string>();
    YAML::Node target = base[key];
    if (target.IsMap() && kv.second.IsMap()) {
      merge(target, kv.second);
    } else {
      base[key] = YAML::Clone(kv.second);
    }
  }
}

YAML::Node load_file(const fs::path& path) {
  std::set<fs::path> active;
  return load_with_bases(path, active);
}

void apply_override(YAML::Node& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw Error("override must look like key.path=value", "--set " + assignment, "e.g. --set optim.lr=1e-4");
  }
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error("value is not valid YAML: " + e.msg, "--set " + assignment);
  }
  if (!value.IsDefined() || (value.IsNull() && text.empty())) value = YAML::Node(std::string());

  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1) {
    parts.push_back(key.substr(start, dot - start));
  }
  parts.push_back(key.substr(start));
  // Walk with explicit node copies: yaml-cpp nodes are handles, so assigning a child
  // through a copy updates the tree.
  std::vector<YAML::Node> chain{root};
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].empty()) throw Error("empty key segment", "--set " + assignment);
    YAML::Node next = chain.back()[parts[i]];
    if (!next.IsMap()) {
      if (next.IsDefined() && !next.IsNull()) {
        throw Error("'" + parts[i] + "' is a value, not a section", "--set " + assignment);
      }
      chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next = chain.back()[parts[i]];
    }
    chain.push_back(next);
  }
  chain.back()[parts.back()] = value;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string did_you_mean(const std::string& key, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, key.size() / 3) + 1;
  for (const auto& candidate : known) {
    const std::size_t d = edit_distance(key, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

void Reader::finish() const {
  if (!node_.IsMap()) return;
  for (const auto& kv : node_) {
    const auto key = kv.first.as<std::string>();
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
      std::string hint = "known keys here: ";
      for (std::size_t i = 0; i < known_.size(); ++i) hint += (i ? ", " : "") + known_[i];
      throw Error("unknown key '" + key + "'" + did_you_mean(key, known_), where_.empty() ? key : where_ + "." + key,
                  hint);
    }
  }
}

void throw_type_error(const YAML::Node& node, const std::string& where, const char* expected) {
  std::string got = node.IsScalar() ? "'" + node.Scalar() + "'" : node.IsSequence() ? "a list" : "a mapping";
  throw Error(fmt::format("expected {}, got {}", expected, got), where);
}

std::string to_yaml(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return std::string(out.c_str()) + "\n";
}

}  // namespace rsclip::config
