#include "train/model_io.h"

#include "core/autocast.h"
#include "core/checkpoint_reader.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/safetensors.h"
#include "models/load_state.h"
#include "models/peft/peft.h"

namespace rsclip::train {

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
models::peft::PeftConfig peft_from_metadata(const Metadata& meta, const std::filesystem::path& file) {
  if (!meta.contains("peft")) throw Error("model.safetensors lacks the peft metadata", file.string());
  return config::read<models::peft::PeftConfig>(YAML::Load(meta.at("peft")), file.string() + ": peft");
}
}  // namespace

models::peft::PeftConfig checkpoint_peft_config(const std::filesystem::path& dir) {
  const auto file = dir / "model.safetensors";
  Metadata meta;
  load_safetensors(file, &meta);
  return peft_from_metadata(meta, file);
}

StateDict read_checkpoint(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw Error("checkpoint not found", path.string());
  if (std::filesystem::is_directory(path)) {
    if (is_training_checkpoint(path)) return load_safetensors(path / "model.safetensors");
    // An open_clip model directory (rsclip export, a hub download).
    for (const char* name : {"open_clip_model.safetensors", "open_clip_pytorch_model.bin"}) {
      if (std::filesystem::exists(path / name)) return read_state_dict(path / name);
    }
    throw Error("a directory with no weights rsclip knows", path.string(),
                "give a weights file, an open_clip model directory (open_clip_model.safetensors) or "
                "RUN/checkpoints/step_N");
  }
  return read_state_dict(path);
}

models::CLIP load_model(const std::string& name_or_path, const std::string& checkpoint, bool strict,
                        torch::Device device) {
  if (!checkpoint.empty() && is_training_checkpoint(checkpoint)) {
    // The architecture and PEFT method come from the checkpoint itself.
    const auto file = std::filesystem::path(checkpoint) / "model.safetensors";
    Metadata meta;
    auto tensors = load_safetensors(file, &meta);
    if (!meta.contains("model_config") || !meta.contains("peft")) {
      throw Error("model.safetensors lacks the model_config/peft metadata", file.string(),
                  "it was not written by rsclip train");
    }
    auto cfg = models::parse_model_config(nlohmann::json::parse(meta.at("model_config")), name_or_path);
    models::CLIP model(cfg);
    models::peft::apply_method(*model, peft_from_metadata(meta, file));
    models::load_state_dict(*model, tensors, /*strict=*/true, file.string());
    model->to(device);
    model->eval();
    return model;
  }
  models::CLIP model(models::load_model_config(name_or_path));
  if (!checkpoint.empty()) models::load_state_dict(*model, read_checkpoint(checkpoint), strict, checkpoint);
  model->to(device);
  model->eval();
  return model;
}

torch::Tensor encode_batched(const std::function<torch::Tensor(const torch::Tensor&)>& fn, const torch::Tensor& input,
                             int64_t batch, torch::Device device, bool bf16) {
  TORCH_CHECK(batch > 0, "batch size must be positive");
  c10::InferenceMode inference;  // no autograd bookkeeping at all (stricter than no_grad)
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < input.size(0); start += batch) {
    auto chunk = input.slice(0, start, std::min(start + batch, input.size(0))).to(device, /*non_blocking=*/true);
    std::optional<AutocastScope> autocast;
    if (bf16) autocast.emplace(device.type(), torch::kBFloat16);
    parts.push_back(fn(chunk).to(torch::kCPU, torch::kFloat));
  }
  if (parts.empty()) return torch::empty({0});
  return torch::cat(parts, 0);
}

}  // namespace rsclip::train
