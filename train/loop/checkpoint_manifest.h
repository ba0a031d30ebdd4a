// The integrity manifest of a checkpoint directory: `manifest.json`, written last (after
// every other file is complete and fsynced), lists each file with its size and XXH3-128
// checksum (xxHash, Debian's libxxhash):
//
//   {"format": "rsclip-checkpoint-manifest", "version": 1,
//    "files": {"model.safetensors": {"size": 123, "xxh3_128": "<32 hex digits>"}, ...}}
//
// A checkpoint verifies when its manifest parses, every listed file has that size and
// checksum, and no file is missing or unlisted. Checkpoints written before manifests existed
// have none: they are reported as unverified, not as damaged.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rsclip::train {

inline constexpr const char* kManifestFile = "manifest.json";

// Hashes every regular file of `dir` and writes dir/manifest.json (then fsyncs it).
void write_checkpoint_manifest(const std::filesystem::path& dir);

struct CheckpointCheck {
  enum class Status { valid, unverified, damaged };
  Status status = Status::damaged;
  std::vector<std::string> problems;  // one line each: what is wrong with which file
  bool usable() const { return status != Status::damaged; }
  std::string summary() const;  // "valid", "unverified (no manifest.json)", "damaged: ..."
};

// Checks a checkpoint directory against its manifest (reads every file once).
CheckpointCheck verify_checkpoint(const std::filesystem::path& dir);

// XXH3-128 of a file's bytes as 32 lower-case hex digits; rsclip::Error if unreadable.
std::string file_xxh3_128(const std::filesystem::path& file);

}  // namespace rsclip::train
