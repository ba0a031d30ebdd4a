#include "data/shards/tar_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include <c10/util/Exception.h>

#include "data/shards/shard_spec.h"

namespace rsclip::data {

// libarchive's read/skip callbacks over a ShardInput; an I/O error is reported through
// archive_set_error so that it surfaces as a failed read of the archive.
struct TarCallbacks {
  static la_ssize_t read(struct archive* a, void* self, const void** out) {
    auto* r = static_cast<TarReader*>(self);
    try {
      const std::size_t n = r->input_->read(r->buffer_.data(), r->buffer_.size());
      *out = r->buffer_.data();
      return static_cast<la_ssize_t>(n);
    } catch (const Error& e) {
      r->input_error_ = e.message();
      archive_set_error(a, EIO, "%s", e.message().c_str());
      return -1;
    }
  }
  static la_int64_t skip(struct archive*, void* self, la_int64_t request) {
    return static_cast<TarReader*>(self)->input_->skip(request);
  }
};

namespace {

constexpr std::size_t kInputBuffer = 1 << 20;
// Nothing in a training shard is this large; a header claiming more is not trusted.
constexpr std::uint64_t kHardMemberLimit = std::uint64_t{4} << 30;

// The entry's name as bytes: the raw header bytes for ustar/GNU names; pax names (UTF-8)
// may not convert to the C locale's charset, so fall back to their UTF-8 form.
const char* entry_name(archive_entry* entry) {
  if (const char* p = archive_entry_pathname(entry)) return p;
  return archive_entry_pathname_utf8(entry);
}

}  // namespace

bool is_webdataset_meta_name(std::string_view name) {
  // tar_file_iterator: '"/" not in fname and fname.startswith("__") and fname.endswith("__")'
  if (name.find('/') == std::string_view::npos && name.size() >= 2 && name.starts_with("__") && name.ends_with("__"))
    return true;
  // skip_meta = re.match(r"__[^/]*__($|/)"): "__", then non-'/' characters, "__", then the
  // end (or a final '\n', as Python's '$' allows) or a '/'.
  if (!name.starts_with("__")) return false;
  for (std::size_t i = 2; i + 1 < name.size() && name[i] != '/'; ++i) {
    if (name[i] == '_' && name[i + 1] == '_') {
      const std::size_t after = i + 2;
      if (after == name.size() || name[after] == '/' || (name[after] == '\n' && after + 1 == name.size())) return true;
    }
  }
  return false;
}

TarReader::TarReader(std::unique_ptr<ShardInput> input)
    : input_(std::move(input)), label_(input_->label()), buffer_(kInputBuffer) {
  archive_ = archive_read_new();
  TORCH_CHECK(archive_ != nullptr, "archive_read_new failed");
  archive_read_support_format_tar(archive_);
  archive_read_support_filter_gzip(archive_);
  // Only decompressors linked into libarchive; a missing one would otherwise be run as an
  // external program.
  if (archive_bzlib_version()) archive_read_support_filter_bzip2(archive_);
  if (archive_liblzma_version()) archive_read_support_filter_xz(archive_);
  if (archive_libzstd_version()) archive_read_support_filter_zstd(archive_);
  archive_read_set_callback_data(archive_, this);
  archive_read_set_read_callback(archive_, &TarCallbacks::read);
  archive_read_set_skip_callback(archive_, &TarCallbacks::skip);
}

std::unique_ptr<TarReader> TarReader::from_memory(std::span<const std::uint8_t> bytes, std::string label) {
  const int fd = ::memfd_create("rsclip-tar", MFD_CLOEXEC);
  if (fd < 0) throw Error("memfd_create failed", label);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      ::close(fd);
      throw Error("cannot stage the tar in memory", label);
    }
    done += static_cast<std::size_t>(n);
  }
  ::lseek(fd, 0, SEEK_SET);
  return std::make_unique<TarReader>(ShardInput::from_fd(fd, std::move(label)));
}

TarReader::~TarReader() {
  if (archive_) archive_read_free(archive_);
}

void TarReader::fail(const char* during) {
  ended_ = true;
  std::string msg = archive_ ? (archive_error_string(archive_) ? archive_error_string(archive_) : "") : "";
  if (!input_error_.empty()) msg = input_error_;
  if (msg.empty()) msg = "unreadable archive";
  // A shard that ends early (cut-off download, zero-byte file) is "truncated"; anything
  // else (bad header checksum, not a tar, broken compression) is "corrupt".
  const bool empty = input_->at_end() && input_->bytes_read() == 0;
  if (empty) msg = "the shard is empty (0 bytes)";
  const bool truncated =
      empty || msg.find("runcated") != std::string::npos || msg.find("remature") != std::string::npos;
  throw TarError(truncated ? TarError::Kind::truncated : TarError::Kind::corrupt,
                 std::string(truncated ? "truncated tar" : "corrupt tar") + " while " + during + " (member " +
                     std::to_string(members_) + "): " + msg,
                 shard_label(label_));
}

bool TarReader::next() {
  if (ended_) return false;
  if (!opened_) {
    // Opening reads ahead to recognise the format, so its errors belong to the first next().
    opened_ = true;
    if (archive_read_open1(archive_) != ARCHIVE_OK) fail("opening");
  }
  while (true) {
    archive_entry* entry = nullptr;
    const int rc = archive_read_next_header(archive_, &entry);
    if (rc == ARCHIVE_EOF) {
      ended_ = true;
      complete_ = true;
      return false;
    }
    // ARCHIVE_RETRY is a damaged header libarchive could resynchronise after; Python's
    // tarfile ends the archive there, we report the shard as corrupt and stop.
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) fail("reading a header");
    ++members_;
    data_read_ = false;
    if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != nullptr) continue;
    const char* name = entry_name(entry);
    if (name == nullptr) continue;
    if (!archive_entry_size_is_set(entry) || archive_entry_size(entry) < 0) {
      archive_set_error(archive_, EINVAL, "member without a size");
      fail("reading a header");
    }
    name_.assign(name);
    if (is_webdataset_meta_name(name_)) continue;
    size_ = static_cast<std::uint64_t>(archive_entry_size(entry));
    return true;
  }
}

void TarReader::read(std::vector<std::uint8_t>& out) {
  TORCH_CHECK(!data_read_, "TarReader::read called twice for one member");
  data_read_ = true;
  if (size_ > kHardMemberLimit) {
    archive_set_error(archive_, EFBIG, "member %s claims %llu bytes", name_.c_str(),
                      static_cast<unsigned long long>(size_));
    fail("reading member data");
  }
  // The buffer grows (doubling from 1 MiB) as bytes actually arrive, so a header that lies
  // about its size costs no more memory than the data behind it.
  out.clear();
  std::uint64_t done = 0;
  while (done < size_) {
    if (done == out.size()) out.resize(std::min<std::uint64_t>(size_, std::max<std::uint64_t>(done * 2, 1 << 20)));
    const la_ssize_t n = archive_read_data(archive_, out.data() + done, out.size() - done);
    if (n < 0) fail("reading member data");
    if (n == 0) {
      archive_set_error(archive_, EIO, "Truncated member %s: %llu of %llu bytes", name_.c_str(),
                        static_cast<unsigned long long>(done), static_cast<unsigned long long>(size_));
      fail("reading member data");
    }
    done += static_cast<std::uint64_t>(n);
  }
}

std::string TarReader::finish() {
  ended_ = true;
  if (archive_) {
    archive_read_free(archive_);
    archive_ = nullptr;
  }
  if (!input_) return {};
  // After a complete archive, a command normally has little or nothing left to write;
  // reading that to its end lets its exit status count (a command still streaming is
  // stopped instead).
  if (complete_) {
    try {
      for (std::size_t total = 0; total < kInputBuffer && !input_->at_end();)
        total += input_->read(buffer_.data(), buffer_.size());
    } catch (const Error& e) {
      input_->finish();
      return e.message();
    }
  }
  return input_->finish();
}

}  // namespace rsclip::data
