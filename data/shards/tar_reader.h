// Streaming tar reader over libarchive: ustar, pax (long and UTF-8 names), GNU long names
// (L/K records) and v7 tars, plain or gzip/bzip2/xz/zstd-compressed (the decompressors
// libarchive was built with; never an external program). Members are read in archive
// order, one at a time, through a fixed 1 MiB input buffer; data not asked for is skipped
// (by seeking when the shard is a regular file).
//
// What reaches the caller, as Python's tarfile + webdataset's tar_file_iterator see it:
// regular files only (no directories, links or devices), minus webdataset metadata names
// (`__*__` at the top level, and names matching `__[^/]*__($|/)`).
//
// Untrusted input: a member's size must be set and at most `max_member_bytes` before any
// buffer is sized from it; a member shorter than its header says is a truncated archive.
// Bad input throws TarError (truncated or corrupt) and never crashes; the members read
// before it remain valid.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "data/shards/shard_input.h"

struct archive;

namespace rsclip::data {

class TarError : public Error {
 public:
  enum class Kind { truncated, corrupt };
  TarError(Kind kind, std::string message, std::string where)
      : Error(std::move(message), std::move(where)), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// True for names webdataset's tar_file_iterator skips as metadata.
bool is_webdataset_meta_name(std::string_view name);

class TarReader {
 public:
  explicit TarReader(std::unique_ptr<ShardInput> input);
  // Reads a tar held in memory (tests, the fuzz target).
  static std::unique_ptr<TarReader> from_memory(std::span<const std::uint8_t> bytes, std::string label);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // Advances to the next member; false at the end of the archive. Throws TarError.
  bool next();
  const std::string& name() const { return name_; }
  std::uint64_t size() const { return size_; }
  // Reads the current member's bytes into out (resized to size()); at most once per member.
  void read(std::vector<std::uint8_t>& out);
  const std::string& label() const { return label_; }
  std::uint64_t members() const { return members_; }

  // Closes the input; returns a pipe command's failure ("" if none), see ShardInput::finish.
  std::string finish();

 private:
  [[noreturn]] void fail(const char* during);

  std::unique_ptr<ShardInput> input_;
  std::string label_;
  archive* archive_ = nullptr;
  std::vector<std::uint8_t> buffer_;
  std::string name_;
  std::uint64_t size_ = 0, members_ = 0;
  bool opened_ = false;
  bool data_read_ = false;
  bool ended_ = false;
  bool complete_ = false;  // reached the end-of-archive
  std::string input_error_;

  friend struct TarCallbacks;
};

}  // namespace rsclip::data
