// Model and weight names as open_clip users write them, resolved offline:
//   hf-hub:ORG/NAME[@REVISION]   a model directory in the local Hugging Face hub cache
//   local-dir:PATH               a model directory
//   MODEL + pretrained TAG       open_clip's pretrained table (configs/pretrained.json,
//                                compiled in) -> a weights file in --pretrained-dir, the hub
//                                cache or open_clip's download cache
// Nothing is downloaded: a missing file is an error naming it, where rsclip looked and how to
// fetch it on a machine with internet.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rsclip::models {

// The hub cache directory, as huggingface_hub finds it: HF_HUB_CACHE, else HF_HOME/hub, else
// XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
std::filesystem::path hf_hub_cache();

// "hf-hub:ORG/NAME[@REV]" -> the snapshot directory of REV (default main) in the hub cache;
// "local-dir:PATH" -> PATH; anything else is returned unchanged. An hf-hub name whose
// snapshot lacks open_clip_config.json or its weights is an error.
std::string resolve_model_name(const std::string& name);

struct PretrainedWeights {
  std::string model;  // the model name to build: MODEL, or MODEL-quickgelu when the tag needs QuickGELU
  std::filesystem::path weights;
  std::string description;  // "ViT-B-32 pretrained laion2b_s34b_b79k (FILE)" for the log
};

// open_clip's pretrained tag `tag` of `model` (e.g. "ViT-B-32", "laion2b_s34b_b79k"; also the
// GeoRSCLIP releases as tag "georsclip": RS5M_ViT-B-32.pt, RS5M_ViT-H-14.pt), looked up in
// `pretrained_dir` (when given), the hub cache and ~/.cache/clip.
PretrainedWeights resolve_pretrained(const std::string& model, const std::string& tag,
                                     const std::filesystem::path& pretrained_dir);

// What a user named as architecture and weights, resolved: hub and local-dir names in both,
// then the pretrained `tag` of `model` (if any) from `pretrained_dir` as the weights, with the
// architecture it needs. `tag_key` and `weights_key` are the options as the user wrote them
// (--pretrained / init.pretrained, --checkpoint / init.checkpoint): giving both is an error.
struct ModelSource {
  std::string model, weights;
  std::string description;  // the pretrained weights, for the log; empty without a tag
};
ModelSource resolve_model_source(const std::string& model, const std::string& weights, const std::string& tag,
                                 const std::filesystem::path& pretrained_dir, const std::string& tag_key,
                                 const std::string& weights_key);

// The tags of `model` in the table (empty when it has none).
std::vector<std::string> pretrained_tags(const std::string& model);

}  // namespace rsclip::models
