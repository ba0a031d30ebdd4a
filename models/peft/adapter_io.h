// Saving and exporting what a PEFT method trained.
//
// Adapter file (safetensors): exactly the method's trainable tensors under their model
// names (adapter parameters, or the base parameters bitfit / linear_probe / lock / full
// train), and in `__metadata__`:
//   format = "rsclip.peft", format_version = "1", method = NAME,
//   peft_config = JSON of {"method": NAME, "<NAME>": {options}}, model = the model config name.
// It is loaded on top of the base checkpoint it was trained from: build the base model,
// load its weights, then apply_adapter_file() (apply the stored config, load the tensors,
// strictly: every expected name present, nothing else, shapes equal).
//
// Export: mergeable methods (lora, bitfit, linear_probe, lock, full) fold into open_clip's
// own parameters; export_state_dict() returns the plain open_clip state dict (names and
// shapes as open_clip, loadable with strict=True). The other methods (coop, vpt, houlsby,
// adaptformer, clip_adapter, mrs_adapter) add computation open_clip's CLIP does not have:
// their export is the base checkpoint plus the adapter file, and export_state_dict() throws
// saying so.
#pragma once

#include <filesystem>

#include "core/io/safetensors.h"
#include "models/peft/peft.h"

namespace rsclip::models::peft {

void save_adapter(const std::filesystem::path& path, CLIPImpl& model, const PeftConfig& cfg);

// The config stored in an adapter file (checks the format fields).
PeftConfig read_adapter_config(const std::filesystem::path& path);

// Loads the tensors of an adapter file into a model to which `cfg` was applied: exactly the
// tensors the method trains (method_parameter_names), shapes equal; `where` names the source.
void load_adapter_tensors(CLIPImpl& model, const PeftConfig& cfg, const StateDict& tensors, const std::string& where);
void load_adapter_weights(CLIPImpl& model, const PeftConfig& cfg, const std::filesystem::path& path);

// apply_method(model, stored config) + load_adapter_weights; returns the stored config.
PeftConfig apply_adapter_file(CLIPImpl& model, const std::filesystem::path& path);

// Folds every mergeable PEFT module into the base weights in place (forward then computes
// the same function from the merged weights), after checking all merged weights are finite
// (nothing changes if one is not). Throws for non-mergeable methods.
void merge(CLIPImpl& model);
// Takes merged modules out again (w - delta: equal to the weights before merge() up to
// float rounding).
void unmerge(CLIPImpl& model);

// The merged model as a plain open_clip state dict (adapter parameters dropped), without
// changing the model. Throws rsclip::Error for non-mergeable methods.
StateDict export_state_dict(CLIPImpl& model);

}  // namespace rsclip::models::peft
