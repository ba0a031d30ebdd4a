// One entry point for model checkpoints, with open_clip's load_state_dict semantics
// (open_clip/factory.py):
//   - the format is decided by the file's first bytes, not its name: safetensors
//     (u64 header length + '{'), a torch.save zip, or a TorchScript zip (torch.jit.save,
//     e.g. OpenAI's CLIP .pt files; told apart by its constants.pkl record);
//   - a dict holding 'state_dict' (open_clip_train checkpoints {'epoch', 'name',
//     'state_dict', 'optimizer', ...}) yields that entry;
//   - a TorchScript archive yields its parameters and buffers in ScriptModule.state_dict()
//     order, minus 'input_resolution', 'context_length' and 'vocab_size';
//   - when the first key starts with 'module.' (a DistributedDataParallel wrapper) the
//     prefix is stripped from every key (all keys must have it).
// A dict with non-tensor values where a state dict is expected is an rsclip::Error that
// names the entry. Tensors come back on the CPU, never requiring grad.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <torch/torch.h>

#include "core/io/state_dict.h"

namespace rsclip {

enum class CheckpointFormat { kSafetensors, kTorchZip, kLegacyTorch, kUnknown };

// From the leading bytes. A TorchScript archive is a kTorchZip; TorchArchive tells.
CheckpointFormat detect_checkpoint_format(std::string_view bytes);

// The model weights in `path` (safetensors, torch.save zip or TorchScript archive).
StateDict read_state_dict(const std::filesystem::path& path);

// open_clip's unwrapping of a loaded torch.save object: 'state_dict' entry, tensor-only
// check, 'module.' prefix. `where` labels errors.
StateDict state_dict_from_checkpoint(const c10::IValue& checkpoint, const std::string& where);

// Any torch.save'd object (trainer/optimizer state): dicts, lists, tuples, scalars,
// strings and tensors, as the restricted unpickler allows (core/io/pickle.h).
c10::IValue read_torch_file(const std::filesystem::path& path);

// Writes `state_dict` as torch.save(OrderedDict(state_dict)) would, atomically; readable by
// torch.load(path, weights_only=True) (e.g. open_clip_pytorch_model.bin). Tensors are
// saved from the CPU with their views and shared storages, as torch.save does.
void write_torch_state_dict(const std::filesystem::path& path, const StateDict& state_dict);

// Writes any value pickle_value accepts (dicts as plain dicts), atomically.
void write_torch_file(const std::filesystem::path& path, const c10::IValue& value);

}  // namespace rsclip
