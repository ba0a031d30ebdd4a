#include "core/base/error.h"

namespace rsclip {
namespace {

std::string format_error(const std::string& message, const std::string& where, const std::string& hint) {
  std::string text = where.empty() ? message : where + ": " + message;
  if (!hint.empty()) text += "\nhint: " + hint;
  return text;
}

}  // namespace

Error::Error(std::string message, std::string where, std::string hint)
    : std::runtime_error(format_error(message, where, hint)),
      message_(std::move(message)),
      where_(std::move(where)),
      hint_(std::move(hint)) {}

Error Error::within(const std::string& outer) const {
  return Error(message_, where_.empty() ? outer : outer + ": " + where_, hint_);
}

}  // namespace rsclip
