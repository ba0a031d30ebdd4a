// The model options encode, eval, export and info share: --model and --checkpoint accept
// open_clip's names (hf-hub:ORG/NAME, local-dir:PATH), and --pretrained TAG with
// --pretrained-dir DIR picks weights from open_clip's pretrained table, offline
// (models/io/pretrained.h).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace rsclip::cli {

struct PretrainedOptions {
  std::string tag, dir;
};

void add_pretrained_options(CLI::App& cmd, PretrainedOptions& p);

// Resolves hub and local-dir names in `model` and `checkpoint`, then --pretrained: the tag's
// weights become `checkpoint` (giving both is an error) and `model` the architecture they need
// (MODEL-quickgelu where the tag was trained with QuickGELU).
void resolve_model_options(std::string& model, std::string& checkpoint, const PretrainedOptions& p);

}  // namespace rsclip::cli
