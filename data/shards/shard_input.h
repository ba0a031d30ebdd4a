// The raw bytes of one shard: a local file, or the standard output of a command
// (`pipe:CMD`, and http(s) URLs streamed through curl as webdataset's gopen does).
// A command runs as `/bin/sh -c CMD` in its own process group, with stdin from /dev/null
// and stderr inherited; when the reader stops early the group is sent SIGTERM and the exit
// status is ignored, as gopen ignores status 141 (SIGPIPE) of a pipe closed early.
#pragma once

#include <cstddef>

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace rsclip::data {

class ShardInput {
 public:
  // Opens `url`; rsclip::Error when the file cannot be opened or the command not started.
  static std::unique_ptr<ShardInput> open(const std::string& url);
  // Reads a file already open (tests, fuzzing); takes ownership of fd.
  static std::unique_ptr<ShardInput> from_fd(int fd, std::string label);

  ~ShardInput();
  ShardInput(const ShardInput&) = delete;
  ShardInput& operator=(const ShardInput&) = delete;

  // Reads up to n bytes; 0 at the end. rsclip::Error on an I/O error.
  std::size_t read(void* buf, std::size_t n);
  // Skips forward up to n bytes without reading where the input is a regular file;
  // returns how many bytes were skipped (0 for pipes: the caller reads instead).
  std::int64_t skip(std::int64_t n);
  bool at_end() const { return at_end_; }
  // Bytes returned by read() so far.
  std::uint64_t bytes_read() const { return bytes_read_; }
  const std::string& label() const { return label_; }
  // The command's process (and process group) id; -1 for a file.
  pid_t child() const { return child_; }

  // Waits for the command (if any). Returns a description of a failure ("exited with
  // status 2"), or "" when it succeeded or the input is a file. Stops the command first
  // when the input was not read to the end.
  std::string finish();

 private:
  ShardInput(int fd, pid_t child, std::string label);
  int fd_ = -1;
  pid_t child_ = -1;
  std::string label_;
  bool at_end_ = false;
  bool regular_ = false;
  std::int64_t size_ = 0, pos_ = 0;
  std::uint64_t bytes_read_ = 0;
};

}  // namespace rsclip::data
