// The model card `rsclip export` writes beside the weights (README.md): Hugging Face's format
// (YAML front matter: library_name open_clip, tags, base_model, licence, model-index with the
// run's evaluation results) and a body naming the model, its base checkpoint, PEFT method and
// trainable parameters, training data and steps, the results table and the resolved config.
// The folder can be uploaded as it is; open_clip then loads it as hf-hub:ORG/NAME.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace rsclip::cli {

struct ModelCardInputs {
  std::string name;              // the export folder's name
  std::string architecture;      // e.g. ViT-B-32
  std::string checkpoint;        // what was exported (a training checkpoint or weights)
  std::string peft_method;       // "full" for plain weights
  int64_t trainable_params = 0;  // of the PEFT method (all parameters for "full")
  int64_t total_params = 0;
  bool ema = false;
  bool adapter = false;  // the method's adapter is in adapter.safetensors (not merged)
  std::string license = "other";
};

// The card's text. For a training checkpoint (RUN/checkpoints/step_N) it also reads the run:
// the checkpoint's config.yaml and trainer.json, and RUN/eval/step_M.json of the latest
// evaluation at or before step N.
std::string model_card(const ModelCardInputs& in);

}  // namespace rsclip::cli
