#include "core/base/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <c10/util/Exception.h>

#include "core/base/error.h"

namespace rsclip {
namespace fs = std::filesystem;
namespace {

void fsync_path(const fs::path& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) throw Error(std::string("cannot open for fsync: ") + std::strerror(errno), path.string());
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error(std::string("fsync failed: ") + std::strerror(errno), path.string());
}

}  // namespace

AtomicFile::AtomicFile(fs::path path) : path_(std::move(path)) {
  const fs::path dir = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create directory: " + ec.message(), dir.string());
  tmp_ = path_.string() + ".tmp-" + std::to_string(::getpid());
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  std::error_code ec;
  fs::remove(tmp_, ec);
}

void AtomicFile::commit() {
  TORCH_CHECK(!committed_, "AtomicFile::commit called twice for ", path_.string());
  fsync_path(tmp_, false);
  std::error_code ec;
  fs::rename(tmp_, path_, ec);
  if (ec) throw Error("cannot rename " + tmp_.string() + ": " + ec.message(), path_.string());
  committed_ = true;
  fsync_path(path_.has_parent_path() ? path_.parent_path() : fs::path("."), true);
}

void write_file_atomic(const fs::path& path, const std::function<void(const fs::path& tmp)>& write) {
  AtomicFile file(path);
  write(file.tmp_path());
  file.commit();
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  write_file_atomic(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw Error("write failed (disk full?)", tmp.string());
  });
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open file", path.string(), "check that the path exists and is readable");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw Error("read failed", path.string());
  return std::move(buf).str();
}

}  // namespace rsclip
