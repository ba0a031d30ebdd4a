// The interface every module a PEFT method adds implements (next to torch::nn::Module), so
// the generic code (merge, export, "already applied" checks) finds them by walking the
// module tree, without a side table of what was applied.
#pragma once

#include <string>

#include "core/io/state_dict.h"

namespace rsclip::models::peft {

class PeftModule {
 public:
  virtual ~PeftModule() = default;
  virtual std::string method() const = 0;
  virtual bool mergeable() const { return false; }
  // Mergeable modules: fold the adapter into the base weights in place (forward then skips
  // the adapter) / take it out again. check_merge throws rsclip::Error, naming `where`, if
  // the merged weights would not be finite (peft's safe_merge), changing nothing.
  virtual void check_merge(const std::string& where) const;
  virtual void merge();
  virtual void unmerge();
  virtual bool merged() const { return false; }
  // Writes the merged values of the base parameters this module changes into `state`
  // (keys `prefix + "." + name`, each written once), without changing the module.
  virtual void export_merged(const std::string& prefix, StateDict& state) const;
};

}  // namespace rsclip::models::peft
