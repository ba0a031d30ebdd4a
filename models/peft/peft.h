// Parameter-efficient fine-tuning as plugins (docs/architecture.md "PEFT as plugins", after
// Hugging Face peft): a method is a config section (peft_config.h) + its modules + attach(),
// registered under a unique lower-case name with a unique parameter-name prefix, so the
// method's parameters are exactly the names with a dotted component starting with the
// prefix (`visual.transformer.resblocks.0.attn.in_proj.lora_A.q.weight`). Base parameters
// keep open_clip's names.
//
// Use (the trainer):
//   auto report = peft::apply_method(*model, cfg.peft); // adds modules, freezes the base;
//                                                       // report.table() for the log
//   optimizer over peft::trainable_parameters(*model)   // requires_grad == true
//   peft::save_adapter(path, *model, cfg.peft);         // adapter_io.h
//   peft::apply_adapter_file(*base_model, path);        // apply + load in one call
//   peft::export_state_dict(*model)                     // merged open_clip state dict
//
// apply_method() freezes by construction: every parameter gets requires_grad = false except the
// method's own (prefix) parameters and the base parameters the method trains (bitfit:
// biases; linear_probe: the two projections; lock: the unlocked groups; full: all).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/io/state_dict.h"
#include "models/clip/clip.h"
#include "models/peft/peft_config.h"

namespace rsclip::models::peft {

class Method {
 public:
  virtual ~Method() = default;
  virtual std::string name() const = 0;    // lower-case, unique ("lora")
  virtual std::string prefix() const = 0;  // unique parameter-name prefix ("lora_"); "" if none
  // True when the adapted model computes exactly the base model's outputs right after
  // apply_method() (zero-initialised up-projections, LoRA's B = 0, methods that add nothing).
  virtual bool identity_at_init() const = 0;
  // True when the trained result folds into open_clip's own parameters (export_state_dict).
  virtual bool mergeable() const = 0;
  // Adds the method's modules and hooks (its parameters must carry prefix()).
  virtual void attach(CLIPImpl& model, const PeftConfig& cfg) const = 0;
  // Base (open_clip-named) parameters the method trains; empty for adapter methods.
  virtual std::vector<std::string> trained_base_parameters(CLIPImpl& model, const PeftConfig& cfg) const;
};

// The registered methods, in registration order. Names and prefixes are checked unique
// (and no prefix starts with another) on first use.
const std::vector<std::unique_ptr<Method>>& registry();
std::vector<std::string> method_names();
// rsclip::Error with a did-you-mean for unknown names.
const Method& find_method(const std::string& name);

// True if `name` has a dotted component starting with `prefix`.
bool has_prefix_component(const std::string& name, const std::string& prefix);
// True if `name` belongs to any registered method's modules (not a base parameter).
bool is_adapter_parameter(const std::string& name);

struct TowerCount {
  int64_t trainable = 0, total = 0;
};
struct PeftReport {
  std::string method;
  TowerCount image, text, shared;  // shared: outside both towers (logit_scale, MRS shared up)
  int64_t trainable() const { return image.trainable + text.trainable + shared.trainable; }
  int64_t total() const { return image.total + text.total + shared.total; }
  std::string table() const;  // the printed report
};

// Applies cfg.method to a base model (errors if a method is already applied), sets
// requires_grad as above and returns the report (printing it is the caller's choice: the
// trainer does, loading a trained model for eval/encode/export does not). (Not called `apply`: CLIPImpl has
// std as an associated namespace, so an unqualified apply(model, cfg) finds std::apply.)
PeftReport apply_method(CLIPImpl& model, const PeftConfig& cfg);

// The report for the model's current requires_grad flags.
PeftReport report(CLIPImpl& model, const std::string& method);

// The parameters that will be trained (requires_grad), by name, in named_parameters order.
std::vector<std::pair<std::string, torch::Tensor>> trainable_parameters(CLIPImpl& model);

// The names apply_method() makes trainable for `cfg` on this (already attached) model.
std::vector<std::string> method_parameter_names(CLIPImpl& model, const PeftConfig& cfg);

}  // namespace rsclip::models::peft
