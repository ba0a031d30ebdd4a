#include "models/io/model_io.h"

#include "core/base/atomic_file.h"
#include "core/base/autocast.h"
#include "core/base/config.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "core/base/stop_signal.h"
#include "core/io/checkpoint_reader.h"
#include "core/io/safetensors.h"
#include "models/clip/load_state.h"
#include "models/peft/adapter_io.h"
#include "models/peft/peft.h"

namespace rsclip::models {

torch::Device parse_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw Error("unknown device '" + name + "'", "--device", "use cpu, cuda, cuda:N or auto");
  }
  if (device.is_cuda()) {
    if (!torch::cuda::is_available()) {
      throw Error("CUDA was asked for but no GPU is available", "--device " + name, "use --device cpu");
    }
    if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count())) {
      throw Error("no such GPU", "--device " + name);
    }
  }
  return device;
}

bool is_training_checkpoint(const std::filesystem::path& path) {
  return std::filesystem::is_directory(path) && std::filesystem::exists(path / "model.safetensors");
}

namespace {
namespace fs = std::filesystem;

constexpr const char* kModelDirWeights[] = {"open_clip_model.safetensors", "open_clip_pytorch_model.bin"};

models::peft::PeftConfig peft_from_metadata(const Metadata& meta, const fs::path& file) {
  if (!meta.contains("peft")) throw Error("model.safetensors lacks the peft metadata", file.string());
  return config::read<models::peft::PeftConfig>(YAML::Load(meta.at("peft")), file.string() + ": peft");
}

// Everything a checkpoint path holds, read once.
struct CheckpointContents {
  StateDict base;                                // open_clip-named tensors
  StateDict adapter;                             // the PEFT method's own tensors (prefixed names)
  std::optional<models::peft::PeftConfig> peft;  // the method `adapter` belongs to
  std::optional<nlohmann::json> model_config;    // the architecture, where the checkpoint carries it
  std::string source;                            // for errors
  bool training = false;                         // a training checkpoint directory
};

CheckpointContents read_training_checkpoint(const fs::path& dir) {
  CheckpointContents c;
  const auto file = dir / "model.safetensors";
  c.source = file.string();
  c.training = true;
  Metadata meta;
  for (auto& item : load_safetensors(file, &meta)) {
    (models::peft::is_adapter_parameter(item.key()) ? c.adapter : c.base).insert(item.key(), item.value());
  }
  if (!meta.contains("model_config") || !meta.contains("peft")) {
    throw Error("model.safetensors lacks the model_config/peft metadata", c.source,
                "it was not written by rsclip train");
  }
  c.model_config = nlohmann::json::parse(meta.at("model_config"));
  c.peft = peft_from_metadata(meta, file);
  return c;
}

CheckpointContents read_model_directory(const fs::path& dir) {
  CheckpointContents c;
  for (const char* name : kModelDirWeights) {
    if (fs::exists(dir / name)) {
      c.source = (dir / name).string();
      c.base = read_state_dict(dir / name);
      break;
    }
  }
  if (const auto config = dir / "open_clip_config.json"; fs::exists(config)) {
    try {
      auto json = nlohmann::json::parse(read_file(config));
      c.model_config = json.contains("model_cfg") ? json["model_cfg"] : json;
    } catch (const nlohmann::json::exception& e) {
      throw Error(std::string("invalid JSON: ") + e.what(), config.string());
    }
  }
  if (const auto adapter = dir / "adapter.safetensors"; fs::exists(adapter)) {
    c.peft = models::peft::read_adapter_config(adapter);
    c.adapter = load_safetensors(adapter);
  }
  return c;
}

CheckpointContents read_contents(const fs::path& path) {
  if (!fs::exists(path)) throw Error("checkpoint not found", path.string());
  if (is_training_checkpoint(path)) return read_training_checkpoint(path);
  if (is_model_directory(path)) return read_model_directory(path);
  if (fs::is_directory(path)) {
    throw Error("a directory with no weights rsclip knows", path.string(),
                "give a weights file, an open_clip model directory (open_clip_model.safetensors) or "
                "RUN/checkpoints/step_N");
  }
  CheckpointContents c;
  c.source = path.string();
  c.base = read_state_dict(path);
  return c;
}

// The checkpoint's weights into a base model with `peft` applied. Without adapter tensors:
// the base weights (with `strict`), then the method. A training checkpoint's adapter: the
// method first, then every tensor strictly (the file holds exactly the adapted model's). A
// model directory's adapter file: base weights, the method, then the adapter's tensors
// (strictly: every tensor the method trains, nothing else).
models::peft::PeftReport restore(models::CLIPImpl& model, const CheckpointContents& c,
                                 const models::peft::PeftConfig& peft, bool strict) {
  if (c.adapter.is_empty()) {
    models::load_state_dict(model, c.base, strict, c.source);
    return models::peft::apply_method(model, peft);
  }
  if (c.training) {
    auto report = models::peft::apply_method(model, peft);
    StateDict all = c.base;
    for (const auto& item : c.adapter) all.insert(item.key(), item.value());
    models::load_state_dict(model, all, /*strict=*/true, c.source);
    return report;
  }
  models::load_state_dict(model, c.base, strict, c.source);
  auto report = models::peft::apply_method(model, peft);
  models::peft::load_adapter_tensors(model, peft, c.adapter, c.source);
  return report;
}

}  // namespace

bool is_model_directory(const std::filesystem::path& path) {
  if (!fs::is_directory(path)) return false;
  for (const char* name : kModelDirWeights) {
    if (fs::exists(path / name)) return true;
  }
  return false;
}

models::peft::PeftConfig checkpoint_peft_config(const std::filesystem::path& checkpoint) {
  if (is_training_checkpoint(checkpoint)) {
    const auto file = checkpoint / "model.safetensors";
    Metadata meta;
    load_safetensors(file, &meta);
    return peft_from_metadata(meta, file);
  }
  if (const auto adapter = checkpoint / "adapter.safetensors"; is_model_directory(checkpoint) && fs::exists(adapter)) {
    return models::peft::read_adapter_config(adapter);
  }
  return {};  // plain open_clip weights: nothing beyond full fine-tuning's parameters
}

StateDict read_checkpoint(const std::filesystem::path& path) {
  if (is_training_checkpoint(path)) return load_safetensors(path / "model.safetensors");
  return read_contents(path).base;
}

std::optional<models::ModelConfig> checkpoint_model_config(const std::filesystem::path& checkpoint,
                                                           const std::string& label) {
  if (is_training_checkpoint(checkpoint)) {
    Metadata meta;
    load_safetensors(checkpoint / "model.safetensors", &meta);
    if (!meta.contains("model_config")) return std::nullopt;
    return models::parse_model_config(nlohmann::json::parse(meta.at("model_config")), label);
  }
  if (is_model_directory(checkpoint) && fs::exists(checkpoint / "open_clip_config.json")) {
    return models::load_model_config(checkpoint.string());
  }
  return std::nullopt;
}

models::CLIP load_model(const std::string& name_or_path, const std::string& checkpoint, bool strict,
                        torch::Device device) {
  if (checkpoint.empty()) {
    if (name_or_path.empty()) throw Error("no model given", "--model", "give a model name, config .json or directory");
    models::CLIP model(models::load_model_config(name_or_path));
    model->to(device);
    model->eval();
    return model;
  }
  const auto c = read_contents(checkpoint);
  const std::string label = name_or_path.empty() ? fs::path(checkpoint).filename().string() : name_or_path;
  std::optional<models::ModelConfig> cfg;
  if (c.model_config) {
    cfg = models::parse_model_config(*c.model_config, label);
  } else if (!name_or_path.empty()) {
    cfg = models::load_model_config(name_or_path);
  } else {
    throw Error("the checkpoint does not say which architecture it is", checkpoint,
                "give --model (a built-in name such as ViT-B-32, an open_clip config .json or model directory)");
  }
  models::CLIP model(*cfg);
  if (c.peft) {
    // A training checkpoint's tensors are exactly the model's: strict whatever was asked.
    restore(*model, c, *c.peft, strict || c.training);
  } else {
    models::load_state_dict(*model, c.base, strict, c.source);
  }
  model->to(device);
  model->eval();
  return model;
}

models::peft::PeftReport load_initial_weights(models::CLIPImpl& model, const std::filesystem::path& checkpoint,
                                              bool strict, const models::peft::PeftConfig& peft) {
  const auto c = read_contents(checkpoint);
  if (c.peft && !c.adapter.is_empty() && c.peft->method != peft.method) {
    throw Error("the checkpoint carries a '" + c.peft->method + "' adapter but the run trains '" + peft.method + "'",
                checkpoint.string(),
                "set peft.method: " + c.peft->method + " to continue training it, or start from the base weights");
  }
  return restore(model, c, peft, strict);
}

torch::Tensor encode_batched(const std::function<torch::Tensor(const torch::Tensor&)>& fn, const torch::Tensor& input,
                             int64_t batch, torch::Device device, bool bf16) {
  TORCH_CHECK(batch > 0, "batch size must be positive");
  c10::InferenceMode inference;  // no autograd bookkeeping at all (stricter than no_grad)
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < input.size(0); start += batch) {
    stop::throw_if_requested();  // an evaluation in training honours a stop signal between batches
    auto chunk = input.slice(0, start, std::min(start + batch, input.size(0))).to(device, /*non_blocking=*/true);
    std::optional<AutocastScope> autocast;
    if (bf16) autocast.emplace(device.type(), torch::kBFloat16);
    parts.push_back(fn(chunk).to(torch::kCPU, torch::kFloat));
  }
  if (parts.empty()) return torch::empty({0});
  return torch::cat(parts, 0);
}

}  // namespace rsclip::models
