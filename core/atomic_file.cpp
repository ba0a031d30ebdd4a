#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

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

void write_file_atomic(const fs::path& path, const std::function<void(const fs::path& tmp)>& write) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create directory: " + ec.message(), dir.string());
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  try {
    write(tmp);
    fsync_path(tmp, false);
    fs::rename(tmp, path);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fsync_path(dir, true);
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
