// Atomic file writes: write to "<path>.tmp-<pid>", fsync, rename over <path>, fsync the
// directory. A reader (or a resumed run) sees the old file or the new one, never a torn one.
#pragma once

#include <filesystem>
#include <functional>
#include <string_view>

namespace rsclip {

// Calls write(tmp_path) to produce the file, then commits it atomically to `path`.
// On failure the temporary file is removed and the old `path` is untouched.
void write_file_atomic(const std::filesystem::path& path,
                       const std::function<void(const std::filesystem::path& tmp)>& write);

// For writers that produce a file piece by piece (tar shards): write to tmp_path(), then
// commit() renames it over path(). Destroyed without commit() -> the temporary is removed,
// so a failed or interrupted writer never leaves a torn file under the final name.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);  // creates the parent directories
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& tmp_path() const { return tmp_; }

  // fsync the temporary, rename it to path(), fsync the directory.
  void commit();

 private:
  std::filesystem::path path_, tmp_;
  bool committed_ = false;
};

// Convenience: atomically replace `path` with `bytes`.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Reads a whole file; rsclip::Error naming the file if it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace rsclip
