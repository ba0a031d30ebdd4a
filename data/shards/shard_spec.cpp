#include "data/shards/shard_spec.h"

#include <glob.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/base/log.h"

namespace rsclip::data {
namespace {

namespace fs = std::filesystem;
using Strings = std::vector<std::string>;

struct Expander {
  std::size_t limit;
  std::string_view whole;

  [[noreturn]] void unbalanced() const {
    throw Error("unbalanced braces in shard pattern", std::string(whole),
                "every '{' needs a matching '}'; write \\{ for a literal brace");
  }

  void check(std::size_t n) const {
    if (n > limit)
      throw Error("shard pattern expands to more than " + std::to_string(limit) + " names", std::string(whole),
                  "check the brace ranges");
  }

  // braceexpand.parse_pattern: literal text and {...} items, expanded as their product.
  Strings pattern(std::string_view s) const {
    std::vector<Strings> items;
    std::size_t start = 0, pos = 0;
    int depth = 0;
    while (pos < s.size()) {
      const char c = s[pos];
      if (c == '\\') {
        pos += 2;
        continue;
      }
      if (c == '{') {
        if (depth == 0 && pos > start) {
          items.push_back({std::string(s.substr(start, pos - start))});
          start = pos;
        }
        ++depth;
      } else if (c == '}') {
        if (--depth < 0) unbalanced();
        if (depth == 0) {
          const std::string_view expr = s.substr(start + 1, pos - start - 1);
          if (auto item = expression(expr)) {
            items.push_back(std::move(*item));
          } else {
            items.push_back({"{"});
            items.push_back(pattern(expr));
            items.push_back({"}"});
          }
          start = pos + 1;
        }
      }
      ++pos;
    }
    if (depth != 0) unbalanced();
    if (start < s.size()) items.push_back({std::string(s.substr(start))});

    std::size_t total = 1;
    for (const auto& item : items) {
      if (item.empty()) return {};
      total *= item.size();
      check(total);
    }
    Strings out{""};
    for (const auto& item : items) {
      Strings next;
      next.reserve(out.size() * item.size());
      for (const auto& prefix : out)
        for (const auto& part : item) next.push_back(prefix + part);
      out = std::move(next);
    }
    return out;
  }

  std::optional<Strings> expression(std::string_view expr) const {
    if (auto r = int_range(expr)) return r;
    if (auto r = char_range(expr)) return r;
    return sequence(expr);
  }

  // `-?\d+` at the front of s; returns its length (0 if none).
  static std::size_t integer_prefix(std::string_view s) {
    std::size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
    const std::size_t digits_start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > digits_start ? i : 0;
  }

  // Parses "(..STEP)?" at the end of a range; the step's sign is ignored, 0 means 1.
  static std::optional<std::int64_t> range_step(std::string_view rest) {
    if (rest.empty()) return 1;
    if (rest.substr(0, 2) != "..") return std::nullopt;
    rest.remove_prefix(2);
    if (!rest.empty() && rest[0] == '-') rest.remove_prefix(1);
    if (rest.empty() || integer_prefix(rest) != rest.size()) return std::nullopt;
    std::int64_t step = 0;
    if (std::from_chars(rest.data(), rest.data() + rest.size(), step).ec != std::errc()) return std::nullopt;
    return step == 0 ? 1 : step;
  }

  std::optional<Strings> int_range(std::string_view expr) const {
    const std::size_t n1 = integer_prefix(expr);
    if (n1 == 0 || expr.substr(n1, 2) != "..") return std::nullopt;
    const std::string_view a = expr.substr(0, n1);
    std::string_view rest = expr.substr(n1 + 2);
    const std::size_t n2 = integer_prefix(rest);
    if (n2 == 0) return std::nullopt;
    const std::string_view b = rest.substr(0, n2);
    const auto step = range_step(rest.substr(n2));
    if (!step) return std::nullopt;
    std::int64_t lo = 0, hi = 0;
    if (std::from_chars(a.data(), a.data() + a.size(), lo).ec != std::errc() ||
        std::from_chars(b.data(), b.data() + b.size(), hi).ec != std::errc())
      throw Error("brace range bound out of range", std::string(whole));
    // braceexpand: a bound written with a leading zero pads all numbers to the wider width.
    const auto padded = [](std::string_view v) {
      return v != "0" && v != "-0" && (v.starts_with('0') || v.starts_with("-0"));
    };
    const std::size_t width = (padded(a) || padded(b)) ? std::max(a.size(), b.size()) : 0;
    // Unsigned arithmetic: the distance between two int64 bounds always fits in uint64.
    const auto ulo = static_cast<std::uint64_t>(lo), uhi = static_cast<std::uint64_t>(hi);
    const auto ustep = static_cast<std::uint64_t>(*step);
    const std::uint64_t count = (lo < hi ? uhi - ulo : ulo - uhi) / ustep + 1;
    check(count);
    Strings out;
    for (std::uint64_t k = 0; k < count; ++k) {
      const auto v = static_cast<std::int64_t>(lo < hi ? ulo + k * ustep : ulo - k * ustep);
      std::string digits = std::to_string(v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v));
      const std::size_t body = width > 0 ? width - (v < 0 ? 1 : 0) : 0;
      if (digits.size() < body) digits.insert(0, body - digits.size(), '0');
      out.push_back((v < 0 ? "-" : "") + digits);
    }
    return out;
  }

  std::optional<Strings> char_range(std::string_view expr) const {
    static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    if (expr.size() < 4 || expr.substr(1, 2) != "..") return std::nullopt;
    const auto s = kAlphabet.find(expr[0]), e = kAlphabet.find(expr[3]);
    if (s == std::string_view::npos || e == std::string_view::npos) return std::nullopt;
    const auto step = range_step(expr.substr(4));
    if (!step) return std::nullopt;
    Strings out;
    if (s < e) {
      for (std::size_t i = s; i <= e; i += static_cast<std::size_t>(*step)) out.emplace_back(1, kAlphabet[i]);
    } else {
      for (std::int64_t i = static_cast<std::int64_t>(s); i >= static_cast<std::int64_t>(e); i -= *step)
        out.emplace_back(1, kAlphabet[static_cast<std::size_t>(i)]);
    }
    return out;
  }

  // braceexpand.parse_sequence: comma-separated alternatives at depth 0 (None without commas).
  std::optional<Strings> sequence(std::string_view seq) const {
    std::vector<std::string_view> parts;
    std::size_t start = 0, pos = 0;
    int depth = 0;
    while (pos < seq.size()) {
      const char c = seq[pos];
      if (c == '\\') {
        pos += 2;
        continue;
      }
      if (c == '{')
        ++depth;
      else if (c == '}')
        --depth;
      else if (c == ',' && depth == 0) {
        parts.push_back(seq.substr(start, pos - start));
        start = pos + 1;
      }
      ++pos;
    }
    if (depth != 0 || parts.empty()) return std::nullopt;
    parts.push_back(start <= seq.size() ? seq.substr(start) : std::string_view{});
    Strings out;
    for (auto part : parts) {
      for (auto& s : pattern(part)) out.push_back(std::move(s));
      check(out.size());
    }
    return out;
  }
};

// braceexpand strips escapes after expansion (re.sub(r'\\(.)', r'\1', s); '.' is not '\n').
std::string strip_escapes(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] != '\n') ++i;
    out += s[i];
  }
  return out;
}

bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

bool is_remote(const std::string& url) {
  return url.starts_with("pipe:") || url.starts_with("http://") || url.starts_with("https://");
}

Strings expand_globs(const std::string& url, const std::string& pattern) {
  std::string path = url.starts_with("file:") ? url.substr(5) : url;
  if (is_remote(url) || !has_glob_chars(path)) return {url};
  glob_t g{};
  const int rc = ::glob(path.c_str(), 0, nullptr, &g);
  Strings out;
  if (rc == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  if (out.empty())
    throw Error("no file matches the shard glob '" + path + "'", pattern, "check the path and the pattern");
  return out;
}

ShardSource expand_one(const std::string& pattern, double weight, const std::string& where) {
  if (pattern.empty()) throw Error("empty shard source", where, "remove the stray '::' or give a path");
  if (!(weight > 0) || !std::isfinite(weight)) throw Error("shard source weight must be a positive number", where);
  ShardSource src{pattern, weight, {}};
  for (const auto& raw : brace_expand(pattern)) {
    for (auto& url : expand_globs(strip_escapes(raw), where)) src.urls.push_back(std::move(url));
  }
  if (src.urls.empty()) throw Error("shard source expands to no shards", where);
  return src;
}

// Splits "PATTERN@WEIGHT"; a trailing "@" followed by a plain decimal number is a weight.
std::pair<std::string, std::optional<double>> split_weight(const std::string& source) {
  const auto at = source.rfind('@');
  if (at == std::string::npos || at + 1 == source.size()) return {source, std::nullopt};
  const std::string tail = source.substr(at + 1);
  if (tail.find_first_not_of("0123456789.") != std::string::npos ||
      tail.find_first_of("0123456789") == std::string::npos)
    return {source, std::nullopt};
  double w = 0;
  const auto [ptr, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), w);
  if (ec != std::errc() || ptr != tail.data() + tail.size()) return {source, std::nullopt};
  return {source.substr(0, at), w};
}

}  // namespace

std::vector<std::string> brace_expand(std::string_view pattern, std::size_t limit) {
  Expander e{limit, pattern};
  auto out = e.pattern(pattern);
  for (auto& s : out) s = strip_escapes(s);
  return out;
}

std::vector<std::string> ShardList::urls() const {
  std::vector<std::string> out;
  for (const auto& s : sources) out.insert(out.end(), s.urls.begin(), s.urls.end());
  return out;
}

std::size_t ShardList::size() const {
  std::size_t n = 0;
  for (const auto& s : sources) n += s.urls.size();
  return n;
}

bool ShardList::weighted() const {
  for (const auto& s : sources)
    if (s.weight != sources.front().weight) return true;
  return false;
}

ShardList parse_shard_spec(const std::string& spec) {
  if (spec.empty())
    throw Error("no shards given", "data.shards", "set data.shards (e.g. /data/train-{0000..0031}.tar)");
  ShardList list;
  std::size_t start = 0;
  while (true) {
    const auto sep = spec.find("::", start);
    const std::string part = spec.substr(start, sep == std::string::npos ? std::string::npos : sep - start);
    auto [pattern, weight] = split_weight(part);
    list.sources.push_back(expand_one(pattern, weight.value_or(1.0), "data.shards source '" + part + "'"));
    if (sep == std::string::npos) break;
    start = sep + 2;
  }
  return list;
}

ShardList expand_sources(const std::vector<std::pair<std::string, double>>& sources) {
  if (sources.empty()) throw Error("no shard sources given", "data.sources");
  ShardList list;
  for (std::size_t i = 0; i < sources.size(); ++i)
    list.sources.push_back(expand_one(sources[i].first, sources[i].second, "data.sources[" + std::to_string(i) + "]"));
  return list;
}

std::optional<std::int64_t> dataset_size_hint(const ShardList& shards) {
  const auto urls = shards.urls();
  if (urls.empty()) return std::nullopt;
  for (const auto& u : urls)
    if (is_remote(u)) return std::nullopt;
  const auto local = [](const std::string& u) { return fs::path(u.starts_with("file:") ? u.substr(5) : u); };
  const fs::path dir = local(urls.front()).parent_path();
  std::error_code ec;
  if (fs::exists(dir / "sizes.json", ec)) {
    std::ifstream in(dir / "sizes.json");
    const auto sizes = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!sizes.is_object()) {
      log::warn("{}: not a JSON object; ignoring it", (dir / "sizes.json").string());
      return std::nullopt;
    }
    std::int64_t total = 0;
    for (const auto& u : urls) {
      const auto it = sizes.find(local(u).filename().string());
      if (it == sizes.end() || !it->is_number_integer()) {
        log::warn("{} has no count for {}; ignoring it", (dir / "sizes.json").string(), local(u).filename().string());
        return std::nullopt;
      }
      total += it->get<std::int64_t>();
    }
    return total;
  }
  if (fs::exists(dir / "__len__", ec)) {
    std::ifstream in(dir / "__len__");
    std::int64_t n = -1;
    if (in >> n && n >= 0) return n;
    log::warn("{}: not an integer; ignoring it", (dir / "__len__").string());
  }
  return std::nullopt;
}

std::string shard_label(const std::string& url) {
  if (url.size() <= 120) return url;
  return url.substr(0, 58) + "..." + url.substr(url.size() - 59);
}

}  // namespace rsclip::data
