// rsclip::Error: the one exception type for user-facing failures (bad input, bad config,
// missing files). It carries what went wrong, where (file / key / sample) and a hint; the
// CLI prints it without a stack trace and exits non-zero. Invariants use TORCH_CHECK.
#pragma once

#include <stdexcept>
#include <string>

namespace rsclip {

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, std::string where = {}, std::string hint = {});

  const std::string& message() const noexcept { return message_; }
  const std::string& where() const noexcept { return where_; }
  const std::string& hint() const noexcept { return hint_; }

  // A copy with the location prefixed (outer context first: "config.yaml: optim.lr").
  Error within(const std::string& outer) const;

 private:
  std::string message_, where_, hint_;
};

}  // namespace rsclip
