#include "core/base/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace rsclip {

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(std::string("cannot open file: ") + std::strerror(errno), path.string(),
                "check that the path exists and is readable");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(std::string("cannot stat file: ") + std::strerror(err), path.string());
  }
  if (S_ISREG(st.st_mode) && st.st_size > 0) {
    void* addr = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr != MAP_FAILED) {
      mapping_ = addr;
      data_ = static_cast<const char*>(addr);
      size_ = static_cast<std::size_t>(st.st_size);
    }
  }
  ::close(fd);
  if (!mapping_ && !(S_ISREG(st.st_mode) && st.st_size == 0)) {
    buffer_ = read_file(path);  // a pipe, /proc file, or a file mmap refused
    data_ = buffer_.data();
    size_ = buffer_.size();
  }
}

MappedFile::~MappedFile() {
  if (mapping_) ::munmap(mapping_, size_);
}

}  // namespace rsclip
