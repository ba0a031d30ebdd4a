// safetensors files (https://github.com/huggingface/safetensors, format of 0.4+):
//
//   u64 little-endian N | N bytes of JSON header | data
//   header = {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//             "__metadata__": {"key": "string value", ...}}   (metadata optional)
//
// Offsets are relative to the end of the header; tensors are contiguous little-endian,
// row-major. The reader checks every size and offset against the file before allocating:
// header length within the file and at most 100 MB, known dtype, shape product * element
// size == end - begin (no overflow), offsets inside the data, no overlap, no gap.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "core/io/state_dict.h"

namespace rsclip {

using Metadata = std::map<std::string, std::string>;

// Reads all tensors (CPU, in header order of their data offsets). rsclip::Error naming the
// file and tensor for anything malformed.
StateDict load_safetensors(const std::filesystem::path& path, Metadata* metadata = nullptr);

// Parses from memory (what the fuzz target drives); `name` labels errors.
StateDict parse_safetensors(std::string_view bytes, const std::string& name, Metadata* metadata = nullptr);

// Writes atomically. Data in the dict's order (contiguous CPU copies); header padded with
// spaces to a multiple of 8 bytes, as the reference writer does.
void save_safetensors(const std::filesystem::path& path, const StateDict& tensors, const Metadata& metadata = {});

}  // namespace rsclip
