// Building a model for the CLI and the trainer: config by name or path, weights from a
// checkpoint file, device selection (no silent CPU fallback), batched encoding.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "core/io/state_dict.h"
#include "models/clip/clip.h"
#include "models/peft/peft.h"
#include "models/peft/peft_config.h"

namespace rsclip::models {

// "cpu", "cuda", "cuda:N" or "auto" (cuda if available, else cpu). Asking for CUDA where
// there is none is an error, never a fallback.
torch::Device parse_device(const std::string& name);

// A directory written by `rsclip train` (RUN/checkpoints/step_N, with model.safetensors).
bool is_training_checkpoint(const std::filesystem::path& path);

// An open_clip model directory (`rsclip export`, a hub download): open_clip_model.safetensors
// or open_clip_pytorch_model.bin, usually with open_clip_config.json, and, for PEFT methods
// open_clip cannot express, adapter.safetensors (models/peft/adapter_io.h).
bool is_model_directory(const std::filesystem::path& path);

// The PEFT config a checkpoint was trained with: a training checkpoint's, a model
// directory's adapter file's; method "full" for plain weights.
models::peft::PeftConfig checkpoint_peft_config(const std::filesystem::path& checkpoint);

// Reads a checkpoint's tensors: .safetensors, torch.save zip (.pt/.bin/.pth) or an OpenAI
// TorchScript archive (format decided by content), a training checkpoint directory's
// model.safetensors (base and adapter tensors), or an open_clip model directory's weights
// (the base weights; its adapter file is read by load_model / load_initial_weights).
StateDict read_checkpoint(const std::filesystem::path& path);

// The architecture a checkpoint carries with it: a training checkpoint's model config, or a
// model directory's open_clip_config.json; nullopt for a bare weights file.
std::optional<models::ModelConfig> checkpoint_model_config(const std::filesystem::path& checkpoint,
                                                           const std::string& label);

// The model with weights from `checkpoint` (random open_clip-style init when empty), in eval
// mode on `device`. A checkpoint that carries its architecture (a training checkpoint or an
// open_clip model directory) brings it, and its PEFT method with the trained adapter
// (applied, not merged); `name_or_path` then only labels it and may be empty. A weights file
// needs `name_or_path` (a built-in name, an open_clip .json or a model directory).
models::CLIP load_model(const std::string& name_or_path, const std::string& checkpoint, bool strict,
                        torch::Device device);

// A training run's initial weights: the checkpoint's base weights are loaded into `model`
// (with `strict`), then `peft` is applied to it, then the adapter the checkpoint carries (a
// training checkpoint's PEFT tensors, a model directory's adapter.safetensors) is loaded, so
// training continues from the exported or saved adapter. A carried adapter of another
// method than `peft.method` is an error. Returns the applied method's report.
models::peft::PeftReport load_initial_weights(models::CLIPImpl& model, const std::filesystem::path& checkpoint,
                                              bool strict, const models::peft::PeftConfig& peft);

// Runs fn over `input` in chunks of `batch` rows on `device` without autograd; returns the
// concatenated fp32 CPU result. `bf16` runs under bf16 autocast.
torch::Tensor encode_batched(const std::function<torch::Tensor(const torch::Tensor&)>& fn, const torch::Tensor& input,
                             int64_t batch, torch::Device device, bool bf16);

}  // namespace rsclip::models
