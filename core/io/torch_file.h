// torch.save files (the zip format of PyTorch >= 1.6), read and written without Python.
//
// Layout torch 2.11 writes (torch/serialization.py _save + PyTorchStreamWriter), every
// record stored uncompressed with its data aligned to 64 bytes, all under one folder
// (the file's stem, or "archive" when saved to a buffer):
//   NAME/data.pkl                 the pickled object (core/io/pickle.h)
//   NAME/.format_version          "1"
//   NAME/.storage_alignment       "64"
//   NAME/byteorder                "little" (or "big"; absent in old files = native)
//   NAME/data/0, NAME/data/1 ...  raw storages, one per distinct storage
//   NAME/version                  "3\n" (file format version, checked 1..10)
//   NAME/.data/serialization_id   random id written by PyTorchStreamWriter
// A TorchScript archive (torch.jit.save) has the same container plus NAME/constants.pkl
// and NAME/code/; torch.load tells them apart by constants.pkl, and so do we. Its data.pkl
// pickles the module tree (core/io/torchscript.h reads the weights out of it).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/io/pickle.h"
#include "core/io/zip_archive.h"

namespace rsclip {

// A torch zip archive over bytes the caller keeps alive.
class TorchArchive {
 public:
  // Parses the zip structure; rsclip::Error naming `name` if it is not a torch archive.
  TorchArchive(std::string_view bytes, std::string name);

  bool is_torchscript() const;

  // Unpickles data.pkl, loading storages from data/<key> as the pickle asks for them
  // (each record once, shared by all tensors that view it; byte-swapped if the file is
  // big-endian). The result is on the CPU whatever location the file names.
  c10::IValue load() const;

  // A TorchScript archive's data.pkl: the module object tree, with objects as dicts
  // (pickle.h UnpickleOptions::script_objects). Nothing of the archive's code is run.
  c10::IValue load_script_module() const;
  // A TorchScript archive's class definitions: code/<path>.py files as (path, text).
  std::vector<std::pair<std::string, std::string>> code_files() const;

  const std::string& name() const { return zip_.name(); }

 private:
  c10::IValue load_pickle(const pickle::UnpickleOptions& options) const;
  std::string record(std::string_view relative) const { return prefix_ + std::string(relative); }

  ZipArchive zip_;
  std::string prefix_;  // "NAME/"
  bool big_endian_ = false;
};

// Writes `pickled` in torch.save's zip layout through `sink` (called with consecutive
// pieces of the file; returns false when it could not write them), using
// PyTorchStreamWriter as torch.save does.
void write_torch_zip(const pickle::Pickled& pickled, const std::function<bool(const char*, std::size_t)>& sink);

// Atomically writes `pickled` to `path` (core/base/atomic_file.h).
void write_torch_zip(const std::filesystem::path& path, const pickle::Pickled& pickled);

}  // namespace rsclip
