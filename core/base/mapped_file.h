// Read-only view of a whole file. Regular files are memory-mapped, so a 10 GB checkpoint
// is read straight from the page cache into its tensors instead of through an extra
// in-memory copy; pipes and other special files are read into a buffer.
//
// The view stays valid while the MappedFile lives. A file truncated by another process
// while mapped raises SIGBUS on access (the usual mmap contract): checkpoints are not
// expected to change while they are read.
#pragma once

#include <cstddef>

#include <filesystem>
#include <string>
#include <string_view>

namespace rsclip {

class MappedFile {
 public:
  // rsclip::Error naming the file if it cannot be opened or read.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when data_ comes from mmap
  std::string buffer_;       // the contents when the file could not be mapped
};

}  // namespace rsclip
