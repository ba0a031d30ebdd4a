#include "train/sweep/sweep.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/base/config.h"
#include "core/base/error.h"
#include "train/loop/train_config.h"

namespace rsclip::train {
namespace fs = std::filesystem;
namespace {

// The scalar fields of a sweep file, read with the visit pattern (unknown keys -> did-you-mean);
// the ordered sections stay YAML nodes and are walked below.
struct SweepFields {
  std::string base, name, output_dir = "sweeps";
  YAML::Node set, list, grid, seeds;
  std::vector<std::string> metrics;
  int64_t jobs = 1;
  template <class V>
  void visit(V& v) {
    v("base", base);
    v("name", name);
    v("output_dir", output_dir);
    v("set", set);
    v("list", list);
    v("grid", grid);
    v("seeds", seeds);
    v("metrics", metrics);
    v("jobs", jobs);
  }
  void validate() const {
    if (base.empty()) throw Error("a sweep needs `base:`", "base", "the training config every variant starts from");
    if (jobs < 1) throw Error("must be at least 1", "jobs");
    for (const auto& m : metrics) {
      if (m.find('/') == std::string::npos) {
        throw Error("'" + m + "' is not an evaluation metric", "metrics",
                    "use keys of summary.json's `eval`, e.g. zeroshot/aid/top1 or retrieval/rsitmd/mR");
      }
    }
  }
};

// A dotted training-config key as written in the sweep file. `name` and `output_dir` belong
// to the sweep (they place every run in OUTPUT_DIR/NAME/runs/<variant>).
std::string checked_key(const YAML::Node& key, const std::string& where) {
  if (!key.IsScalar() || key.Scalar().empty()) throw Error("keys must be dotted config keys", where);
  const std::string k = key.Scalar();
  if (k.front() == '.' || k.back() == '.' || k.find("..") != std::string::npos) {
    throw Error("'" + k + "' has an empty segment", where, "keys look like optim.lr or peft.lora.rank");
  }
  if (k == "name" || k == "output_dir") {
    throw Error("'" + k + "' is set by the sweep", where + "." + k,
                "every variant runs as OUTPUT_DIR/NAME/runs/<variant>; set the sweep's own `name:` / `output_dir:`");
  }
  return k;
}

std::vector<SweepAssignment> read_assignments(const YAML::Node& map, const std::string& where, bool allow_name,
                                              std::string* name) {
  std::vector<SweepAssignment> out;
  if (!map.IsDefined() || map.IsNull()) return out;
  if (!map.IsMap()) throw Error("expected a mapping of dotted keys to values", where);
  for (const auto& kv : map) {
    if (allow_name && kv.first.IsScalar() && kv.first.Scalar() == "name") {
      if (!kv.second.IsScalar() || kv.second.Scalar().empty()) throw Error("must be a non-empty text", where + ".name");
      *name = kv.second.Scalar();
      continue;
    }
    const std::string key = checked_key(kv.first, where);
    for (const auto& [k, v] : out) {
      if (k == key) throw Error("'" + key + "' appears twice", where);
    }
    out.emplace_back(key, YAML::Clone(kv.second));
  }
  return out;
}

std::vector<SweepListEntry> read_list(const YAML::Node& node) {
  std::vector<SweepListEntry> out;
  if (!node.IsDefined() || node.IsNull()) return out;
  if (!node.IsSequence()) throw Error("expected a list of variants", "list", "e.g. list: [{peft.method: lora}, ...]");
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string where = fmt::format("list[{}]", i);
    SweepListEntry e;
    e.values = read_assignments(node[i], where, true, &e.name);
    if (e.values.empty() && e.name.empty()) {
      throw Error("an empty variant", where, "give it keys to override, or a `name:` for the base config as is");
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<SweepAxis> read_grid(const YAML::Node& node, const YAML::Node& seeds) {
  std::vector<SweepAxis> out;
  if (node.IsDefined() && !node.IsNull()) {
    if (!node.IsMap())
      throw Error("expected a mapping of dotted keys to lists", "grid", "e.g. grid: {optim.lr: [1e-4, 1e-3]}");
    for (const auto& kv : node) {
      SweepAxis axis{checked_key(kv.first, "grid"), {}};
      const std::string where = "grid." + axis.key;
      if (!kv.second.IsSequence() || kv.second.size() == 0) {
        throw Error("expected a non-empty list of values", where, "write `" + axis.key + ": [a, b]`");
      }
      for (const auto& v : kv.second) axis.values.push_back(YAML::Clone(v));
      out.push_back(std::move(axis));
    }
  }
  if (seeds.IsDefined() && !seeds.IsNull()) {
    if (!seeds.IsSequence() || seeds.size() == 0) throw Error("expected a non-empty list of integers", "seeds");
    for (const auto& a : out) {
      if (a.key == "seed") throw Error("both `seeds:` and a `seed` grid axis", "seeds", "keep one of them");
    }
    SweepAxis axis{"seed", {}};
    for (const auto& s : seeds) {
      try {
        (void)s.as<int64_t>();
      } catch (const YAML::Exception&) {
        throw Error("expected integers, got '" + yaml_inline(s) + "'", "seeds");
      }
      axis.values.push_back(YAML::Clone(s));
    }
    out.push_back(std::move(axis));
  }
  return out;
}

// Letters, digits and . _ = + - are kept; any other run of characters becomes one '-'.
std::string path_safe(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '=' || c == '+' || c == '-';
    if (ok)
      out.push_back(c);
    else if (out.empty() || out.back() != '-')
      out.push_back('-');
  }
  if (!out.empty() && out.front() == '.') out.front() = '_';  // never "." / ".." / a hidden folder
  // Long names (long list values) keep a readable prefix and a hash of the whole, so they stay
  // unique, stable and within file-name limits.
  if (out.size() > 120) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : out) h = (h ^ c) * 1099511628211ull;
    out = out.substr(0, 100) + fmt::format("-{:08x}", static_cast<uint32_t>(h ^ (h >> 32)));
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

// Name labels: a key's last component, or the whole key where two varied keys share it.
std::map<std::string, std::string> axis_labels(const SweepConfig& c) {
  std::vector<std::string> keys;
  for (const auto& e : c.list) {
    for (const auto& [k, v] : e.values) keys.push_back(k);
  }
  for (const auto& a : c.grid) keys.push_back(a.key);
  std::map<std::string, std::set<std::string>> by_last;
  for (const auto& k : keys) by_last[k.substr(k.rfind('.') + 1)].insert(k);
  std::map<std::string, std::string> labels;
  for (const auto& k : keys) {
    const std::string last = k.substr(k.rfind('.') + 1);
    labels[k] = by_last[last].size() > 1 ? k : last;
  }
  return labels;
}

}  // namespace

std::string yaml_inline(const YAML::Node& value) {
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << value;
  return out.c_str();
}

SweepConfig load_sweep_config(const fs::path& file) {
  const YAML::Node root = config::load_file(file);
  SweepConfig c;
  c.file = file;
  try {
    const auto f = config::read<SweepFields>(root);
    c.base = (file.parent_path() / f.base).lexically_normal();
    c.name = f.name.empty() ? file.stem().string() : f.name;
    if (c.name != path_safe(c.name)) {
      throw Error("'" + c.name + "' cannot name a folder", "name", "use letters, digits and . _ = + -");
    }
    c.output_dir = f.output_dir;
    c.set = read_assignments(f.set, "set", false, nullptr);
    c.list = read_list(f.list);
    c.grid = read_grid(f.grid, f.seeds);
    c.metrics = f.metrics;
    c.jobs = f.jobs;
    if (c.list.empty() && c.grid.empty()) {
      throw Error("nothing to sweep", "grid",
                  "add `grid:` (cartesian product), `list:` (explicit variants) or `seeds:`");
    }
    for (std::size_t i = 0; i < c.list.size(); ++i) {
      for (const auto& [k, v] : c.list[i].values) {
        for (const auto& a : c.grid) {
          if (a.key == k) {
            throw Error(fmt::format("'{}' is set by list[{}] and varied by the grid", k, i), "grid." + k,
                        "vary a key in one place");
          }
        }
      }
    }
  } catch (const Error& e) {
    throw e.within(file.string());
  }
  if (!fs::exists(c.base)) {
    throw Error("base training config not found: " + c.base.string(), file.string() + ": base",
                "`base:` is relative to the sweep file's folder");
  }
  return c;
}

std::vector<SweepVariant> expand_sweep(const SweepConfig& c) {
  const auto labels = axis_labels(c);
  std::vector<SweepListEntry> list = c.list;
  if (list.empty()) list.emplace_back();  // the grid alone
  std::size_t points = 1;
  for (const auto& a : c.grid) points *= a.values.size();

  std::vector<SweepVariant> out;
  std::map<std::string, std::size_t> seen;
  for (const auto& entry : list) {
    for (std::size_t p = 0; p < points; ++p) {
      SweepVariant v;
      std::vector<std::string> parts, values, group_parts, group_values;
      auto add_part = [&](const std::string& part, const std::string& value, bool is_seed) {
        parts.push_back(part);
        values.push_back(value);
        if (!is_seed) group_parts.push_back(part), group_values.push_back(value);
      };
      for (const auto& [k, value] : c.set) v.overrides.push_back(k + "=" + yaml_inline(value));
      if (!entry.name.empty()) add_part(entry.name, entry.name, false);
      for (const auto& [k, value] : entry.values) {
        const std::string text = yaml_inline(value);
        v.axes.emplace_back(k, text);
        v.overrides.push_back(k + "=" + text);
        if (entry.name.empty()) add_part(labels.at(k) + "=" + text, text, false);
      }
      // Mixed radix over the grid, the last axis fastest (file order = nesting order).
      std::vector<std::size_t> index(c.grid.size());
      for (std::size_t i = c.grid.size(), rest = p; i-- > 0;) {
        index[i] = rest % c.grid[i].values.size();
        rest /= c.grid[i].values.size();
      }
      for (std::size_t i = 0; i < c.grid.size(); ++i) {
        const auto& axis = c.grid[i];
        const std::string text = yaml_inline(axis.values[index[i]]);
        v.axes.emplace_back(axis.key, text);
        v.overrides.push_back(axis.key + "=" + text);
        add_part(labels.at(axis.key) + "=" + text, text, axis.key == "seed");
        if (axis.key == "seed") v.seed = text;
      }
      v.name = path_safe(join(parts, "_"));
      v.label = join(values, "_");
      if (!v.seed.empty()) {
        v.group = group_parts.empty() ? "all" : path_safe(join(group_parts, "_"));
        v.group_label = group_values.empty() ? "all" : join(group_values, "_");
      }
      if (const auto it = seen.find(v.name); it != seen.end()) {
        throw Error(fmt::format("variants {} and {} are both named '{}'", it->second + 1, out.size() + 1, v.name),
                    c.file.string(),
                    "give list entries distinct `name:`s and axes distinct values (names keep only letters, digits "
                    "and . _ = + -)");
      }
      seen.emplace(v.name, out.size());
      out.push_back(std::move(v));
    }
  }
  return out;
}

std::vector<std::string> train_overrides(const SweepConfig& c, const SweepVariant& v,
                                         const std::vector<std::string>& extra) {
  std::vector<std::string> out = v.overrides;
  out.push_back("name=" + yaml_inline(YAML::Node(v.name)));
  out.push_back("output_dir=" + yaml_inline(YAML::Node(c.runs_dir().string())));
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

void validate_variants(const SweepConfig& c, const std::vector<SweepVariant>& variants,
                       const std::vector<std::string>& extra) {
  for (const auto& v : variants) {
    try {
      (void)load_train_config(c.base.string(), train_overrides(c, v, extra));
    } catch (const Error& e) {
      throw e.within(fmt::format("{}: variant '{}'", c.file.string(), v.name));
    }
  }
}

}  // namespace rsclip::train
