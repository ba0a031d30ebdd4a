// Choosing where a method attaches by module-name patterns, as peft's target_modules and
// torchtitan's converters do: a glob (`*` any run of characters including dots, `?` one
// character) must match a whole name. A pattern that matches nothing is an error naming the
// pattern and listing the closest names, never a silent no-op.
#pragma once

#include <string>
#include <vector>

namespace rsclip::models::peft {

bool glob_match(const std::string& pattern, const std::string& name);

// The candidates matched by at least one pattern, in candidate order. Throws rsclip::Error
// (where = `section`, e.g. "peft.lora.targets") for an empty pattern list or a pattern
// that matches none of `candidates` (described as `kind`, e.g. "Linear layers").
std::vector<std::string> match_targets(const std::vector<std::string>& patterns,
                                       const std::vector<std::string>& candidates, const std::string& section,
                                       const std::string& kind);

// Up to `n` candidates closest to `pattern` (edit distance to the pattern with its
// wildcards removed), for error messages.
std::vector<std::string> closest_names(const std::string& pattern, const std::vector<std::string>& candidates,
                                       std::size_t n = 5);

}  // namespace rsclip::models::peft
