#include "models/io/pretrained.h"

#include <cstdlib>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/base/config.h"
#include "core/base/error.h"

// configs/pretrained.json, compiled in (models/io/CMakeLists.txt).
extern "C" const unsigned char rsclip_pretrained_table_begin[];
extern "C" const unsigned char rsclip_pretrained_table_end[];

namespace rsclip::models {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

constexpr const char* kHubPrefix = "hf-hub:";
constexpr const char* kLocalDirPrefix = "local-dir:";
constexpr const char* kHubWeights[] = {"open_clip_model.safetensors", "open_clip_pytorch_model.bin"};

const Json& table() {
  static const Json t = Json::parse(reinterpret_cast<const char*>(rsclip_pretrained_table_begin),
                                    reinterpret_cast<const char*>(rsclip_pretrained_table_end))["models"];
  return t;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The cache folder of a model repository: models--ORG--NAME.
std::string hub_folder(const std::string& repo) {
  std::string folder = "models--" + repo;
  for (std::size_t p = 0; (p = folder.find('/', p)) != std::string::npos;) folder.replace(p, 1, "--");
  return folder;
}

// models--ORG--NAME/snapshots/<commit> for `revision`: a branch or tag under refs/, or a commit.
fs::path hub_snapshot(const std::string& repo, const std::string& revision) {
  const fs::path root = hf_hub_cache() / hub_folder(repo);
  std::string commit = revision;
  if (std::ifstream ref(root / "refs" / revision); ref) std::getline(ref, commit);
  return root / "snapshots" / commit;
}

std::string fetch_hint(const std::string& repo, const std::string& file) {
  return fmt::format(
      "on a machine with internet run `huggingface-cli download {} {}` (or open_clip's "
      "create_model_and_transforms), then copy ~/.cache/huggingface/hub/{} from there into {} "
      "(or point HF_HUB_CACHE at a copy of that cache)",
      repo, file, hub_folder(repo), hf_hub_cache().string());
}

}  // namespace

fs::path hf_hub_cache() {
  if (auto v = env("HF_HUB_CACHE"); !v.empty()) return v;
  if (auto v = env("HF_HOME"); !v.empty()) return fs::path(v) / "hub";
  if (auto v = env("XDG_CACHE_HOME"); !v.empty()) return fs::path(v) / "huggingface" / "hub";
  return fs::path(env("HOME")) / ".cache" / "huggingface" / "hub";
}

std::string resolve_model_name(const std::string& name) {
  if (name.rfind(kLocalDirPrefix, 0) == 0) return name.substr(std::string(kLocalDirPrefix).size());
  if (name.rfind(kHubPrefix, 0) != 0) return name;
  std::string repo = name.substr(std::string(kHubPrefix).size()), revision = "main";
  if (const auto at = repo.find('@'); at != std::string::npos) {
    revision = repo.substr(at + 1);
    repo.resize(at);
  }
  if (repo.find('/') == std::string::npos || repo.empty()) {
    throw Error("'" + name + "' is not a hub name", "model",
                "write hf-hub:ORG/NAME, e.g. hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K");
  }
  const fs::path dir = hub_snapshot(repo, revision);
  if (!fs::exists(dir / "open_clip_config.json")) {
    throw Error(name + ": no open_clip_config.json in the Hugging Face cache", (dir / "open_clip_config.json").string(),
                fetch_hint(repo, "open_clip_config.json open_clip_model.safetensors"));
  }
  for (const char* w : kHubWeights) {
    if (fs::exists(dir / w)) return dir.string();
  }
  throw Error(name + ": no weights in the Hugging Face cache", (dir / kHubWeights[0]).string(),
              fetch_hint(repo, kHubWeights[0]));
}

ModelSource resolve_model_source(const std::string& model, const std::string& weights, const std::string& tag,
                                 const fs::path& pretrained_dir, const std::string& tag_key,
                                 const std::string& weights_key) {
  ModelSource s{resolve_model_name(model), resolve_model_name(weights), ""};
  if (tag.empty()) return s;
  if (!weights.empty()) throw Error(tag_key + " and " + weights_key + " both give the weights", tag_key, "keep one");
  const auto w = resolve_pretrained(s.model, tag, pretrained_dir);
  return {w.model, w.weights.string(), w.description};
}

std::vector<std::string> pretrained_tags(const std::string& model) {
  std::vector<std::string> tags;
  if (table().contains(model)) {
    for (auto it = table()[model].begin(); it != table()[model].end(); ++it) tags.push_back(it.key());
  }
  return tags;
}

PretrainedWeights resolve_pretrained(const std::string& model, const std::string& tag, const fs::path& pretrained_dir) {
  if (!table().contains(model)) {
    std::vector<std::string> models;
    for (auto it = table().begin(); it != table().end(); ++it) models.push_back(it.key());
    throw Error("open_clip has no pretrained weights for model '" + model + "'" + config::did_you_mean(model, models),
                "--pretrained", "give the weights with --checkpoint FILE instead");
  }
  const Json& tags = table()[model];
  if (!tags.contains(tag)) {
    throw Error("unknown pretrained tag '" + tag + "' for " + model + config::did_you_mean(tag, pretrained_tags(model)),
                "--pretrained", fmt::format("tags of {}: {}", model, fmt::join(pretrained_tags(model), ", ")));
  }
  const Json& e = tags[tag];
  const std::string hub = e.value("hf_hub", ""), url = e.value("url", "");
  // hf_hub is "ORG/REPO/" (the standard weight files) or "ORG/REPO/FILE".
  const auto slash = hub.find('/', hub.find('/') + 1);
  const std::string repo = hub.substr(0, slash), hub_file = slash == std::string::npos ? "" : hub.substr(slash + 1);
  std::vector<std::string> files;  // file names to look for
  if (e.contains("file")) files.push_back(e["file"]);
  if (!hub_file.empty()) files.push_back(fs::path(hub_file).filename().string());
  if (hub_file.empty() && !hub.empty()) files.insert(files.end(), std::begin(kHubWeights), std::end(kHubWeights));
  if (!url.empty()) files.push_back(fs::path(url).filename().string());

  std::vector<fs::path> candidates;
  if (!pretrained_dir.empty()) {
    for (const auto& f : files) candidates.push_back(pretrained_dir / f);
    if (!repo.empty()) {  // `huggingface-cli download REPO --local-dir DIR/NAME`
      for (const auto& f : files) candidates.push_back(pretrained_dir / fs::path(repo).filename() / f);
    }
  }
  if (!repo.empty()) {
    const fs::path snapshot = hub_snapshot(repo, "main");
    if (!hub_file.empty()) candidates.push_back(snapshot / hub_file);
    for (const auto& f : files) candidates.push_back(snapshot / f);
  }
  if (!url.empty()) candidates.push_back(fs::path(env("HOME")) / ".cache" / "clip" / fs::path(url).filename());

  for (const auto& c : candidates) {
    if (fs::is_regular_file(c)) {
      const bool quick_gelu = e.value("quick_gelu", false);
      const bool add = quick_gelu && !model.ends_with("-quickgelu");
      return {add ? model + "-quickgelu" : model, c, fmt::format("{} pretrained {} ({})", model, tag, c.string())};
    }
  }
  std::string looked;
  for (const auto& c : candidates) looked += "\n  " + c.string();
  const std::string hint = !repo.empty() ? fetch_hint(repo, hub_file.empty() ? kHubWeights[0] : hub_file)
                                         : "download " + url + " into --pretrained-dir";
  throw Error(fmt::format("no weights for {} pretrained {}; looked in:{}", model, tag, looked), "--pretrained", hint);
}

}  // namespace rsclip::models
