#include "data/shards/tar_writer.h"

#include <archive.h>
#include <archive_entry.h>

#include <string_view>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "data/shards/utf8_ctype.h"

namespace rsclip::data {
namespace {

void check_member_name(const std::string& name, const std::filesystem::path& archive_path) {
  const auto fail = [&](const std::string& why) {
    throw Error("bad tar member name \"" + name + "\": " + why, archive_path.string(),
                "member names are relative paths such as KEY.jpg or dir/KEY.txt");
  };
  if (name.empty()) fail("empty");
  if (name.find('\0') != std::string::npos) fail("contains a NUL byte");
  if (name.front() == '/') fail("absolute path");
  std::string_view rest(name);
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..") fail("empty, '.' or '..' path component");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
}

bool is_ascii(const std::string& s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

}  // namespace

TarWriter::TarWriter(const std::filesystem::path& path) : path_(path), file_(std::make_unique<AtomicFile>(path)) {
  const ScopedUtf8Ctype utf8;
  archive_ = archive_write_new();
  if (!archive_) throw Error("cannot allocate a libarchive writer", path_.string());
  // pax_restricted = ustar headers, plus pax extended headers only for what ustar cannot
  // represent (GNU tar's and Python's default behaviour for such members).
  if (archive_write_set_format_pax_restricted(archive_) != ARCHIVE_OK ||
      archive_write_add_filter_none(archive_) != ARCHIVE_OK ||
      archive_write_open_filename(archive_, file_->tmp_path().c_str()) != ARCHIVE_OK) {
    const std::string why = archive_error_string(archive_) ? archive_error_string(archive_) : "unknown error";
    archive_write_free(archive_);
    archive_ = nullptr;
    throw Error("cannot create tar file: " + why, file_->tmp_path().string(), "check that the directory is writable");
  }
}

TarWriter::~TarWriter() {
  if (archive_) archive_write_free(archive_);  // abandoned: file_ removes the temporary
}

void TarWriter::add(const std::string& member_name, std::span<const std::uint8_t> bytes) {
  if (closed_) throw Error("add() after close()", path_.string());
  check_member_name(member_name, path_);
  const ScopedUtf8Ctype utf8;
  if (!utf8.active() && !is_ascii(member_name)) {
    throw Error("non-ASCII tar member name \"" + member_name + "\" needs the C.UTF-8 locale, which is missing",
                path_.string(), "use ASCII keys, or install a glibc with C.UTF-8");
  }
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(), archive_entry_free);
  archive_entry_set_pathname_utf8(entry.get(), member_name.c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(bytes.size()));
  archive_entry_set_mtime(entry.get(), 0, 0);
  archive_entry_set_uid(entry.get(), 0);
  archive_entry_set_gid(entry.get(), 0);
  const int rc = archive_write_header(archive_, entry.get());
  if (rc < ARCHIVE_WARN) {  // a warning is a pax header written for a non-ASCII name: fine
    throw Error("cannot write tar header for \"" + member_name + "\": " + archive_error_string(archive_),
                path_.string());
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const la_ssize_t n = archive_write_data(archive_, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      throw Error("cannot write tar member \"" + member_name +
                      "\": " + (archive_error_string(archive_) ? archive_error_string(archive_) : "short write"),
                  path_.string(), "is the disk full?");
    }
    done += static_cast<std::size_t>(n);
  }
  if (archive_write_finish_entry(archive_) != ARCHIVE_OK) {
    throw Error("cannot finish tar member \"" + member_name + "\": " + archive_error_string(archive_), path_.string());
  }
}

void TarWriter::close() {
  if (closed_) throw Error("close() called twice", path_.string());
  const ScopedUtf8Ctype utf8;
  if (archive_write_close(archive_) != ARCHIVE_OK) {
    throw Error(std::string("cannot finish tar file: ") + archive_error_string(archive_), path_.string(),
                "is the disk full?");
  }
  final_size_ = static_cast<std::uint64_t>(archive_filter_bytes(archive_, -1));
  archive_write_free(archive_);
  archive_ = nullptr;
  file_->commit();
  closed_ = true;
}

std::uint64_t TarWriter::bytes_written() const {
  if (closed_) return final_size_;
  return static_cast<std::uint64_t>(archive_filter_bytes(archive_, -1));
}

}  // namespace rsclip::data
