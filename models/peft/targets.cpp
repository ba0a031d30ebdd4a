#include "models/peft/targets.h"

#include <algorithm>

#include "core/base/config.h"
#include "core/base/error.h"

namespace rsclip::models::peft {

bool glob_match(const std::string& pattern, const std::string& name) {
  // Iterative wildcard matching with backtracking to the last `*` (linear in practice).
  std::size_t p = 0, n = 0, star = std::string::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<std::string> closest_names(const std::string& pattern, const std::vector<std::string>& candidates,
                                       std::size_t n) {
  std::string literal;
  for (char c : pattern) {
    if (c != '*' && c != '?') literal += c;
  }
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const auto& c : candidates) scored.emplace_back(config::edit_distance(literal, c), c);
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < scored.size() && i < n; ++i) out.push_back(scored[i].second);
  return out;
}

std::vector<std::string> match_targets(const std::vector<std::string>& patterns,
                                       const std::vector<std::string>& candidates, const std::string& section,
                                       const std::string& kind) {
  if (patterns.empty()) throw Error("no target patterns given", section, "list module-name globs");
  std::vector<bool> hit(candidates.size(), false);
  for (const auto& pattern : patterns) {
    bool any = false;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (glob_match(pattern, candidates[i])) hit[i] = any = true;
    }
    if (!any) {
      std::string close;
      for (const auto& c : closest_names(pattern, candidates)) close += "\n\t  " + c;
      throw Error("target pattern '" + pattern + "' matches none of the model's " + kind +
                      (close.empty() ? "" : "; closest names:" + close),
                  section, "patterns are globs over whole module names (`*` matches dots too)");
    }
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (hit[i]) out.push_back(candidates[i]);
  }
  return out;
}

}  // namespace rsclip::models::peft
