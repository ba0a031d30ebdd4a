// Model configs as data: open_clip's model_configs/*.json format ({"embed_dim", "vision_cfg",
// "text_cfg", ...}), parsed into typed structs. The configs shipped in configs/models/ are
// compiled into the binary; any other open_clip ViT config can be given as a .json path.
//
// Supported: the ViT image tower and the transformer text tower of open_clip's CLIP and
// CustomTextCLIP (`custom_text`), with the options those configs use (head_width, mlp_ratio,
// ls_init_value, no_ln_pre, pool_type, final_ln_after_pool, norm eps, GELU approximation,
// QuickGELU, proj_bias, init_logit_bias ...). timm / HF / ResNet towers, CoCa and attentional
// pooling are rejected with a clear error rather than half-supported.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rsclip::models {

struct VisionConfig {
  int image_size = 224;
  int layers = 12;
  int width = 768;
  int head_width = 64;
  double mlp_ratio = 4.0;
  int patch_size = 16;
  std::optional<double> ls_init_value;
  double patch_dropout = 0.0;
  bool no_ln_pre = false;
  std::string pool_type = "tok";  // tok | avg | none
  bool final_ln_after_pool = false;
  double norm_eps = 1e-5;
  std::string act_approximate = "none";  // nn.GELU(approximate=...)

  int heads() const { return width / head_width; }
  int grid() const { return image_size / patch_size; }
  int tokens() const { return grid() * grid() + 1; }
  int mlp_width() const { return static_cast<int>(width * mlp_ratio); }  // int() truncation as open_clip
};

struct TextConfig {
  int context_length = 77;
  int vocab_size = 49408;
  int width = 512;
  int heads = 8;
  int layers = 12;
  double mlp_ratio = 4.0;
  std::optional<double> ls_init_value;
  bool no_causal_mask = false;
  std::string pool_type = "argmax";  // argmax | first | last | eos | none
  int eos_id = 2;
  int pad_id = 0;
  bool proj_bias = false;            // text_projection as nn.Linear (with bias)
  std::string proj_type = "linear";  // linear | none
  double norm_eps = 1e-5;
  std::string act_approximate = "none";
  std::string hf_tokenizer_name;  // tokenizer selection lives in train/ (data/ owns tokenizers)
  nlohmann::json tokenizer_kwargs = nlohmann::json::object();

  int mlp_width() const { return static_cast<int>(width * mlp_ratio); }
};

struct ModelConfig {
  std::string name;
  int embed_dim = 512;
  bool quick_gelu = false;
  bool custom_text = false;                      // CustomTextCLIP: text tower under `text.` in the state dict
  double init_logit_scale = 2.6592600369644043;  // ln(1 / 0.07)
  std::optional<double> init_logit_bias;         // SigLIP
  bool nonscalar_logit_scale = false;
  VisionConfig vision;
  TextConfig text;
  nlohmann::json json;  // the config as given (written back out by export)
};

// Parses an open_clip config JSON; `name` labels errors. Unknown or unsupported keys are
// errors naming the key.
ModelConfig parse_model_config(const nlohmann::json& json, const std::string& name);

// A built-in name ("ViT-B-32", also "ViT-B/32") or a path to a .json file.
ModelConfig load_model_config(const std::string& name_or_path);

std::vector<std::string> builtin_model_names();

}  // namespace rsclip::models
