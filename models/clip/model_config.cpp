#include "models/clip/model_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>

#include "core/base/config.h"
#include "core/base/error.h"

extern "C" const unsigned char rsclip_model_configs_begin[];
extern "C" const unsigned char rsclip_model_configs_end[];

namespace rsclip::models {
namespace {

using Json = nlohmann::json;

// Keys of open_clip's dataclasses that select towers or features rsclip does not implement.
const std::set<std::string> kUnsupportedVision = {"timm_model_name",
                                                  "timm_model_pretrained",
                                                  "timm_pool",
                                                  "timm_proj",
                                                  "timm_proj_bias",
                                                  "timm_drop",
                                                  "timm_drop_path",
                                                  "attentional_pool",
                                                  "attn_pooler_queries",
                                                  "attn_pooler_heads",
                                                  "block_type",
                                                  "qk_norm",
                                                  "scaled_cosine_attn",
                                                  "scale_heads",
                                                  "scale_attn_inner",
                                                  "scale_attn",
                                                  "scale_fc"};
const std::set<std::string> kUnsupportedText = {
    "hf_model_name", "hf_model_pretrained", "hf_proj_type", "hf_pooler_type",   "embed_cls",  "block_type",
    "qk_norm",       "scaled_cosine_attn",  "scale_heads",  "scale_attn_inner", "scale_attn", "scale_fc"};

class Fields {
 public:
  Fields(const Json& json, std::string where) : json_(json), where_(std::move(where)) {
    if (!json_.is_object()) throw Error("expected a JSON object", where_);
  }

  template <class T>
  void get(const char* key, T& out) {
    known_.emplace_back(key);
    auto it = json_.find(key);
    if (it == json_.end()) return;
    try {
      if constexpr (requires { out.has_value(); }) {
        if (it->is_null()) {
          out.reset();
        } else {
          out = it->template get<typename T::value_type>();
        }
      } else {
        out = it->template get<T>();
      }
    } catch (const Json::exception&) {
      throw Error("wrong type for this key: " + it->dump(), where_ + "." + key);
    }
  }

  void reject(const std::set<std::string>& unsupported, const std::string& what) const {
    for (auto it = json_.begin(); it != json_.end(); ++it) {
      if (unsupported.count(it.key())) {
        throw Error("'" + it.key() + "' is not supported by rsclip", where_ + "." + it.key(),
                    "rsclip implements open_clip's ViT image tower and transformer text tower (" + what + ")");
      }
    }
  }

  // Keys that are neither read nor known-unsupported: typos or a newer open_clip.
  void finish(const std::vector<std::string>& ignored = {}) const {
    for (auto it = json_.begin(); it != json_.end(); ++it) {
      const auto& k = it.key();
      if (std::find(known_.begin(), known_.end(), k) == known_.end() &&
          std::find(ignored.begin(), ignored.end(), k) == ignored.end()) {
        throw Error("unknown key '" + k + "'" + config::did_you_mean(k, known_), where_ + "." + k);
      }
    }
  }

 private:
  const Json& json_;
  std::string where_;
  std::vector<std::string> known_;
};

void read_kwargs(const Json& tower, const std::string& where, double& eps, std::string& approximate) {
  if (auto n = tower.find("norm_kwargs"); n != tower.end() && !n->is_null()) {
    for (auto it = n->begin(); it != n->end(); ++it) {
      if (it.key() != "eps") throw Error("only 'eps' is supported in norm_kwargs", where + ".norm_kwargs." + it.key());
      eps = it->get<double>();
    }
  }
  if (auto a = tower.find("act_kwargs"); a != tower.end() && !a->is_null()) {
    for (auto it = a->begin(); it != a->end(); ++it) {
      if (it.key() != "approximate") {
        throw Error("only 'approximate' is supported in act_kwargs", where + ".act_kwargs." + it.key());
      }
      approximate = it->get<std::string>();
    }
  }
}

VisionConfig parse_vision(const Json& json, const std::string& where) {
  VisionConfig v;
  Fields f(json, where);
  f.reject(kUnsupportedVision, "no timm towers, attentional pooling or custom blocks");
  if (auto it = json.find("layers"); it != json.end() && it->is_array()) {
    throw Error("ResNet image towers (layers as a list) are not supported", where + ".layers");
  }
  if (auto it = json.find("image_size"); it != json.end() && it->is_array()) {
    if (it->size() != 2 || (*it)[0] != (*it)[1]) throw Error("only square image sizes are supported", where);
    v.image_size = (*it)[0].get<int>();
  } else {
    f.get("image_size", v.image_size);
  }
  f.get("layers", v.layers);
  f.get("width", v.width);
  f.get("head_width", v.head_width);
  f.get("mlp_ratio", v.mlp_ratio);
  f.get("patch_size", v.patch_size);
  f.get("ls_init_value", v.ls_init_value);
  f.get("patch_dropout", v.patch_dropout);
  f.get("no_ln_pre", v.no_ln_pre);
  f.get("pool_type", v.pool_type);
  f.get("final_ln_after_pool", v.final_ln_after_pool);
  std::string pos_embed_type = "learnable";
  f.get("pos_embed_type", pos_embed_type);
  bool output_tokens = false;
  f.get("output_tokens", output_tokens);  // an output format switch; features are unaffected
  read_kwargs(json, where, v.norm_eps, v.act_approximate);
  f.finish({"norm_kwargs", "act_kwargs", "image_size"});
  if (pos_embed_type != "learnable") throw Error("only 'learnable' positional embeddings are supported", where);
  if (v.pool_type != "tok" && v.pool_type != "avg" && v.pool_type != "none") {
    throw Error("pool_type must be tok, avg or none", where + ".pool_type");
  }
  if (v.width <= 0 || v.layers <= 0 || v.head_width <= 0 || v.patch_size <= 0 || v.image_size <= 0 ||
      v.width % v.head_width != 0 || v.image_size % v.patch_size != 0 || v.patch_dropout < 0 || v.patch_dropout >= 1) {
    throw Error("inconsistent sizes (width divisible by head_width, image_size by patch_size, all positive)", where);
  }
  return v;
}

TextConfig parse_text(const Json& json, const std::string& where) {
  TextConfig t;
  Fields f(json, where);
  f.reject(kUnsupportedText, "no HF text towers or custom blocks");
  f.get("context_length", t.context_length);
  f.get("vocab_size", t.vocab_size);
  f.get("width", t.width);
  f.get("heads", t.heads);
  f.get("layers", t.layers);
  f.get("mlp_ratio", t.mlp_ratio);
  f.get("ls_init_value", t.ls_init_value);
  f.get("no_causal_mask", t.no_causal_mask);
  f.get("pool_type", t.pool_type);
  f.get("eos_id", t.eos_id);
  f.get("pad_id", t.pad_id);
  f.get("proj_bias", t.proj_bias);
  f.get("proj_type", t.proj_type);
  f.get("hf_tokenizer_name", t.hf_tokenizer_name);
  std::string tokenizer_mode;
  f.get("tokenizer_mode", tokenizer_mode);
  bool output_tokens = false;
  f.get("output_tokens", output_tokens);
  if (auto it = json.find("tokenizer_kwargs"); it != json.end() && !it->is_null()) t.tokenizer_kwargs = *it;
  if (!tokenizer_mode.empty()) t.tokenizer_kwargs["tokenizer_mode"] = tokenizer_mode;
  read_kwargs(json, where, t.norm_eps, t.act_approximate);
  f.finish({"norm_kwargs", "act_kwargs", "tokenizer_kwargs"});
  static const std::set<std::string> pools = {"argmax", "first", "last", "eos", "none"};
  if (!pools.count(t.pool_type))
    throw Error("pool_type must be argmax, first, last, eos or none", where + ".pool_type");
  if (t.proj_type != "linear" && t.proj_type != "none") throw Error("proj_type must be linear or none", where);
  if (t.width <= 0 || t.heads <= 0 || t.layers <= 0 || t.width % t.heads != 0 || t.context_length <= 0 ||
      t.vocab_size <= 0) {
    throw Error("inconsistent sizes (width divisible by heads, all positive)", where);
  }
  return t;
}

const Json& builtin_configs() {
  static const Json configs = Json::parse(reinterpret_cast<const char*>(rsclip_model_configs_begin),
                                          reinterpret_cast<const char*>(rsclip_model_configs_end));
  return configs;
}

std::string canonical_name(std::string name) {
  std::replace(name.begin(), name.end(), '/', '-');  // open_clip accepts "ViT-B/32"
  return name;
}

}  // namespace

ModelConfig parse_model_config(const Json& json, const std::string& name) {
  ModelConfig m;
  m.name = name;
  m.json = json;
  Fields f(json, name);
  if (json.contains("multimodal_cfg")) throw Error("CoCa models (multimodal_cfg) are not supported", name);
  f.get("embed_dim", m.embed_dim);
  f.get("quick_gelu", m.quick_gelu);
  f.get("custom_text", m.custom_text);
  f.get("init_logit_scale", m.init_logit_scale);
  f.get("init_logit_bias", m.init_logit_bias);
  f.get("nonscalar_logit_scale", m.nonscalar_logit_scale);
  if (!json.contains("vision_cfg") || !json.contains("text_cfg")) {
    throw Error("an open_clip model config needs vision_cfg and text_cfg", name);
  }
  m.vision = parse_vision(json["vision_cfg"], name + ": vision_cfg");
  m.text = parse_text(json["text_cfg"], name + ": text_cfg");
  f.finish({"vision_cfg", "text_cfg"});
  if (m.embed_dim <= 0) throw Error("embed_dim must be positive", name + ".embed_dim");
  return m;
}

ModelConfig load_model_config(const std::string& name_or_path) {
  std::filesystem::path path(name_or_path);
  std::string label = path.stem().string();
  if (std::filesystem::is_directory(path)) {  // an open_clip model directory (rsclip export, HF hub)
    label = path.filename().empty() ? path.parent_path().filename().string() : path.filename().string();
    path /= "open_clip_config.json";
  }
  if (path.extension() == ".json" || std::filesystem::exists(path)) {
    std::ifstream in(path);
    if (!in)
      throw Error("cannot read model config", path.string(),
                  "give a built-in name (rsclip info --list) or a .json path");
    Json json;
    try {
      json = Json::parse(in);
    } catch (const Json::exception& e) {
      throw Error(std::string("invalid JSON: ") + e.what(), path.string());
    }
    // open_clip_config.json (hub-style export) nests the model config under model_cfg.
    if (json.contains("model_cfg")) json = json["model_cfg"];
    return parse_model_config(json, label);
  }
  const std::string name = canonical_name(name_or_path);
  const Json& configs = builtin_configs();
  // open_clip names a QuickGELU variant MODEL-quickgelu; any built-in model has one.
  constexpr std::string_view kQuickGelu = "-quickgelu";
  if (const std::string base = name.substr(0, name.size() - std::min(name.size(), kQuickGelu.size()));
      !configs.contains(name) && name.ends_with(kQuickGelu) && configs.contains(base)) {
    Json json = configs[base];
    json["quick_gelu"] = true;
    return parse_model_config(json, name);
  }
  if (!configs.contains(name)) {
    throw Error("unknown model '" + name_or_path + "'" + config::did_you_mean(name, builtin_model_names()), "model",
                "built-in models: rsclip info --list; or pass the path of an open_clip config .json");
  }
  return parse_model_config(configs[name], name);
}

std::vector<std::string> builtin_model_names() {
  std::vector<std::string> names;
  for (auto it = builtin_configs().begin(); it != builtin_configs().end(); ++it) names.push_back(it.key());
  return names;
}

}  // namespace rsclip::models
