// Internal to models/peft/: the method factories the registry lists, and the small model
// helpers the methods share.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/base/error.h"
#include "models/clip/transformer.h"
#include "models/peft/peft.h"

namespace rsclip::models::peft {

std::unique_ptr<Method> make_full();
std::unique_ptr<Method> make_lora();
std::unique_ptr<Method> make_coop();
std::unique_ptr<Method> make_vpt();
std::unique_ptr<Method> make_houlsby();
std::unique_ptr<Method> make_adaptformer();
std::unique_ptr<Method> make_clip_adapter();
std::unique_ptr<Method> make_mrs_adapter();
std::unique_ptr<Method> make_bitfit();
std::unique_ptr<Method> make_linear_probe();
std::unique_ptr<Method> make_lock();

enum class Tower { image, text };

// The residual-attention blocks of both towers with their full names
// (`visual.transformer.resblocks.3`, `transformer.resblocks.3`), image tower first.
struct NamedBlock {
  std::string name;
  Tower tower;
  ResidualAttentionBlockImpl* block;
};
std::vector<NamedBlock> named_blocks(CLIPImpl& model);
std::vector<NamedBlock> select_blocks(CLIPImpl& model, const std::vector<std::string>& patterns,
                                      const std::string& section);

// Name prefix of the text tower's own members: "" (CLIP unpacks the tower onto itself) or
// "text." (CustomTextCLIP).
std::string text_prefix(const CLIPImpl& model);

// Registers `module` as a member of the text tower under `name`: on the TextTransformer
// (so it counts as text and moves with it) and, for CLIP's flat layout, on CLIP itself
// (so it appears in the state dict as `name`, beside `ln_final`), as open_clip would name
// a member of its TextTransformer.
void register_on_text(CLIPImpl& model, const std::string& name, const std::shared_ptr<torch::nn::Module>& module);

// "image"/"text" list from a config (ClipAdapterConfig::towers), checked.
std::vector<Tower> parse_towers(const std::vector<std::string>& towers, const std::string& section);

// Runs section.validate(), prefixing errors with `where` ("peft.lora"): attach() checks its
// section, since configs built in code skip the YAML reader's validation.
template <class Section>
void check_section(const Section& section, const std::string& where) {
  try {
    section.validate();
  } catch (const Error& e) {
    throw e.within(where);
  }
}

// Kaiming-uniform(a = sqrt 5) like nn.Linear's default weight init.
void kaiming_uniform_default(torch::Tensor& weight);

}  // namespace rsclip::models::peft
