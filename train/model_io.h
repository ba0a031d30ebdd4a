// Building a model for the CLI and the trainer: config by name or path, weights from a
// checkpoint file, device selection (no silent CPU fallback), batched encoding.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "core/state_dict.h"
#include "models/clip.h"
#include "models/peft/peft_config.h"

namespace rsclip::train {

// "cpu", "cuda", "cuda:N" or "auto" (cuda if available, else cpu). Asking for CUDA where
// there is none is an error, never a fallback.
torch::Device parse_device(const std::string& name);

// A directory written by `rsclip train` (RUN/checkpoints/step_N, with model.safetensors).
bool is_training_checkpoint(const std::filesystem::path& path);

// The PEFT config a training checkpoint directory was trained with.
models::peft::PeftConfig checkpoint_peft_config(const std::filesystem::path& dir);

// Reads a checkpoint's tensors: .safetensors, torch.save zip (.pt/.bin/.pth) or an OpenAI
// TorchScript archive (format decided by content), a training checkpoint directory's
// model.safetensors, or an open_clip model directory's weights (as `rsclip export` writes).
StateDict read_checkpoint(const std::filesystem::path& path);

// The model `name_or_path` (built-in name or open_clip .json) with weights from `checkpoint`
// (random open_clip-style init when empty), in eval mode on `device`. A training checkpoint
// directory brings its own architecture and PEFT method (applied, not merged); then
// `name_or_path` only labels it.
models::CLIP load_model(const std::string& name_or_path, const std::string& checkpoint, bool strict,
                        torch::Device device);

// Runs fn over `input` in chunks of `batch` rows on `device` without autograd; returns the
// concatenated fp32 CPU result. `bf16` runs under bf16 autocast.
torch::Tensor encode_batched(const std::function<torch::Tensor(const torch::Tensor&)>& fn, const torch::Tensor& input,
                             int64_t batch, torch::Device device, bool bf16);

}  // namespace rsclip::train
