// TarWriter: writes a tar archive member by member (webdataset shards, `rsclip synth`,
// `rsclip shards`) with deterministic bytes, so that the same samples give the same file:
// every member is a regular file with mode 0644, mtime 0, uid/gid 0 and empty user/group
// names, in the order added. The format is POSIX ustar, with a pax extended header only
// where ustar cannot hold a member (names over 100 bytes, non-ASCII names, members of 8 GiB
// or more), as GNU tar and Python's tarfile write it; tarfile, webdataset and libarchive
// read it. The archive is written to "<path>.tmp-<pid>" and renamed to <path> by close(),
// so a reader never sees a half-written shard; destroyed without close(), the temporary is
// removed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

struct archive;

namespace rsclip {
class AtomicFile;
}

namespace rsclip::data {

class TarWriter {
 public:
  explicit TarWriter(const std::filesystem::path& path);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Appends one member. The name is UTF-8, relative, without "." or ".." components, empty
  // components or NUL bytes (rsclip::Error otherwise).
  void add(const std::string& member_name, std::span<const std::uint8_t> bytes);

  // Finishes the archive (end-of-archive blocks, padding to a 10240-byte record) and
  // commits it under the final name. Further add()/close() calls are errors.
  void close();

  // Bytes of the archive so far; after close(), the size of the file.
  std::uint64_t bytes_written() const;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::unique_ptr<AtomicFile> file_;
  archive* archive_ = nullptr;
  std::uint64_t final_size_ = 0;
  bool closed_ = false;
};

}  // namespace rsclip::data
