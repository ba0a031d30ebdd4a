#include "core/io/zip_archive.h"

#include <zlib.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/base/error.h"

namespace rsclip {
namespace {

constexpr std::uint32_t kLocalHeaderSig = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kZip64EndSig = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::uint64_t kLocalHeaderSize = 30;
constexpr std::uint64_t kCentralHeaderSize = 46;
constexpr std::uint64_t kEndSize = 22;
constexpr std::uint64_t kZip64EndSize = 56;
constexpr std::uint64_t kZip64LocatorSize = 20;
constexpr std::uint64_t kMaxCommentSize = 0xffff;
constexpr std::uint16_t kZip64ExtraId = 0x0001;

// Little-endian field reads; callers have checked that [pos, pos + N) is inside `b`.
std::uint16_t u16(std::string_view b, std::uint64_t pos) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[pos]) | (static_cast<unsigned char>(b[pos + 1]) << 8));
}
std::uint32_t u32(std::string_view b, std::uint64_t pos) {
  return static_cast<std::uint32_t>(u16(b, pos)) | (static_cast<std::uint32_t>(u16(b, pos + 2)) << 16);
}
std::uint64_t u64(std::string_view b, std::uint64_t pos) {
  return static_cast<std::uint64_t>(u32(b, pos)) | (static_cast<std::uint64_t>(u32(b, pos + 4)) << 32);
}

// True when [offset, offset + size) lies inside [0, limit), without overflow.
bool within(std::uint64_t offset, std::uint64_t size, std::uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

}  // namespace

ZipArchive::ZipArchive(std::string_view bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {
  const std::uint64_t size = bytes_.size();
  if (size < kEndSize) {
    throw Error(fmt::format("file too short for a zip archive ({} bytes)", size), name_, "the file is truncated");
  }
  // The end record is the last 22 bytes plus a comment of at most 64 KiB: search backwards
  // for its signature and take the first one whose comment fits the file.
  std::uint64_t end_pos = UINT64_MAX;
  const std::uint64_t lowest = size - kEndSize > kMaxCommentSize ? size - kEndSize - kMaxCommentSize : 0;
  for (std::uint64_t pos = size - kEndSize + 1; pos-- > lowest;) {
    if (u32(bytes_, pos) == kEndSig && u16(bytes_, pos + 20) <= size - kEndSize - pos) {
      end_pos = pos;
      break;
    }
  }
  if (end_pos == UINT64_MAX) {
    throw Error("no zip end-of-central-directory record", name_, "the file is truncated or not a zip archive");
  }
  if (u16(bytes_, end_pos + 4) != 0 || u16(bytes_, end_pos + 6) != 0) {
    throw Error("multi-disk zip archives are not supported", name_);
  }
  std::uint64_t count = u16(bytes_, end_pos + 10);
  std::uint64_t cd_size = u32(bytes_, end_pos + 12);
  std::uint64_t cd_offset = u32(bytes_, end_pos + 16);
  std::uint64_t cd_limit = end_pos;  // the directory ends before the end record(s)

  // Zip64 (archives over 4 GiB, e.g. ViT-bigG checkpoints): a locator right before the
  // end record points at the zip64 end record holding 64-bit count, size and offset.
  if (end_pos >= kZip64LocatorSize && u32(bytes_, end_pos - kZip64LocatorSize) == kZip64LocatorSig) {
    const std::uint64_t locator = end_pos - kZip64LocatorSize;
    const std::uint64_t record = u64(bytes_, locator + 8);
    if (!within(record, kZip64EndSize, locator) || u32(bytes_, record) != kZip64EndSig) {
      throw Error("zip64 locator points outside the archive", name_, "the file is truncated or corrupt");
    }
    count = u64(bytes_, record + 32);
    cd_size = u64(bytes_, record + 40);
    cd_offset = u64(bytes_, record + 48);
    cd_limit = record;
  }
  if (!within(cd_offset, cd_size, cd_limit)) {
    throw Error(fmt::format("central directory [{}, +{}) outside the archive ({} bytes)", cd_offset, cd_size, size),
                name_, "the file is truncated or corrupt");
  }
  if (count > cd_size / kCentralHeaderSize) {
    throw Error(fmt::format("zip declares {} entries but its central directory has room for at most {}", count,
                            cd_size / kCentralHeaderSize),
                name_, "the file is corrupt");
  }
  parse_central_directory(cd_offset, cd_size, count);
  locate_data();
  // The index refers to the names inside entries_, which no longer changes.
  index_.reserve(entries_.size());
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (!index_.emplace(entries_[i].name, i).second) {
      throw Error("duplicate zip entry '" + entries_[i].name + "'", name_, "the file is corrupt");
    }
  }
}

void ZipArchive::parse_central_directory(std::uint64_t cd_offset, std::uint64_t cd_size, std::uint64_t count) {
  entries_.reserve(count);  // count * 46 <= cd_size <= file size: bounded by the input
  std::uint64_t pos = cd_offset;
  const std::uint64_t end = cd_offset + cd_size;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!within(pos, kCentralHeaderSize, end) || u32(bytes_, pos) != kCentralHeaderSig) {
      throw Error(fmt::format("bad central directory header {} at offset {}", i, pos), name_, "the file is corrupt");
    }
    Entry e;
    e.flags = u16(bytes_, pos + 8);
    e.method = u16(bytes_, pos + 10);
    e.crc32 = u32(bytes_, pos + 16);
    e.compressed_size = u32(bytes_, pos + 20);
    e.size = u32(bytes_, pos + 24);
    const std::uint64_t name_len = u16(bytes_, pos + 28);
    const std::uint64_t extra_len = u16(bytes_, pos + 30);
    const std::uint64_t comment_len = u16(bytes_, pos + 32);
    e.header_offset = u32(bytes_, pos + 42);
    const std::uint64_t var_len = name_len + extra_len + comment_len;
    if (!within(pos + kCentralHeaderSize, var_len, end)) {
      throw Error(fmt::format("central directory header {} runs past the directory", i), name_, "the file is corrupt");
    }
    e.name.assign(bytes_.substr(pos + kCentralHeaderSize, name_len));

    // Zip64 extra field: 64-bit values for exactly those fields saturated above, in the
    // order size, compressed size, header offset.
    std::uint64_t x = pos + kCentralHeaderSize + name_len;
    const std::uint64_t x_end = x + extra_len;
    while (x_end - x >= 4) {
      const std::uint16_t id = u16(bytes_, x);
      const std::uint64_t len = u16(bytes_, x + 2);
      if (len > x_end - x - 4) throw Error("zip extra field runs past its header", name_ + ": " + e.name);
      if (id == kZip64ExtraId) {
        std::uint64_t f = x + 4;
        auto take = [&](std::uint64_t& field) {
          if (field != 0xffffffffu) return;
          if (f + 8 > x + 4 + len) throw Error("zip64 extra field too short", name_ + ": " + e.name);
          field = u64(bytes_, f);
          f += 8;
        };
        take(e.size);
        take(e.compressed_size);
        take(e.header_offset);
      }
      x += 4 + len;
    }
    entries_.push_back(std::move(e));
    pos += kCentralHeaderSize + var_len;
  }
}

void ZipArchive::locate_data() {
  const std::uint64_t size = bytes_.size();
  for (auto& e : entries_) {
    const std::string where = name_ + ": " + e.name;
    if (!within(e.header_offset, kLocalHeaderSize, size) || u32(bytes_, e.header_offset) != kLocalHeaderSig) {
      throw Error(fmt::format("no local zip header at offset {}", e.header_offset), where, "the file is corrupt");
    }
    const std::uint64_t name_len = u16(bytes_, e.header_offset + 26);
    const std::uint64_t extra_len = u16(bytes_, e.header_offset + 28);
    const std::uint64_t name_pos = e.header_offset + kLocalHeaderSize;
    if (!within(name_pos, name_len + extra_len, size) || bytes_.substr(name_pos, name_len) != e.name) {
      throw Error("local zip header does not match the central directory", where, "the file is corrupt");
    }
    e.data_offset = name_pos + name_len + extra_len;
    if (!within(e.data_offset, e.compressed_size, size)) {
      throw Error(
          fmt::format("record data [{}, +{}) outside the archive ({} bytes)", e.data_offset, e.compressed_size, size),
          where, "the file is truncated or corrupt");
    }
  }
  // Records may not share bytes: then the sum of all records is bounded by the file size.
  std::vector<const Entry*> by_offset;
  by_offset.reserve(entries_.size());
  for (const auto& e : entries_) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->header_offset < b->header_offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const Entry& prev = *by_offset[i - 1];
    if (prev.data_offset + prev.compressed_size > by_offset[i]->header_offset) {
      throw Error("zip records '" + prev.name + "' and '" + by_offset[i]->name + "' overlap", name_,
                  "the file is corrupt");
    }
  }
}

const ZipArchive::Entry* ZipArchive::find(std::string_view entry_name) const {
  const auto it = index_.find(entry_name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

std::string_view ZipArchive::read(std::string_view entry_name) const {
  const Entry* e = find(entry_name);
  const std::string where = name_ + ": " + std::string(entry_name);
  if (!e) throw Error("record missing from the archive", where, "the file is incomplete or not a torch.save file");
  if (e->flags & 1u) throw Error("encrypted zip records are not supported", where);
  if (e->method != 0 || e->compressed_size != e->size) {
    throw Error(fmt::format("compressed zip record (method {}); torch.save stores records uncompressed", e->method),
                where, "re-save the file with torch.save");
  }
  const std::string_view data = bytes_.substr(e->data_offset, e->size);
  check_crc(*e, data, where);
  return data;
}

void ZipArchive::check_crc(const Entry& e, std::string_view data, const std::string& where) const {
  if (e.crc32 == 0 && !data.empty()) return;
  // zlib's crc32 takes a 32-bit length: feed it in chunks.
  uLong crc = ::crc32(0L, Z_NULL, 0);
  for (std::size_t off = 0; off < data.size();) {
    const auto n = static_cast<uInt>(std::min<std::size_t>(data.size() - off, 1u << 30));
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(data.data() + off), n);
    off += n;
  }
  // Fuzz builds skip the comparison (the usual libFuzzer convention, as in libpng), so
  // mutated records reach the storage and pickle code behind it.
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  if (crc != e.crc32) {
    throw Error(fmt::format("CRC-32 mismatch (stored {:08x}, computed {:08x})", e.crc32, crc), where,
                "the file is corrupt; download or copy it again");
  }
#endif
}

std::string ZipArchive::read_small(std::string_view entry_name, std::size_t max_size) const {
  const Entry* e = find(entry_name);
  const std::string where = name_ + ": " + std::string(entry_name);
  if (!e) throw Error("record missing from the archive", where, "the file is incomplete or corrupt");
  if (e->method == 0) return std::string(read(entry_name));
  if (e->flags & 1u) throw Error("encrypted zip records are not supported", where);
  if (e->method != 8) throw Error(fmt::format("zip record compressed with method {}", e->method), where);
  if (e->size > max_size) throw Error(fmt::format("record of {} bytes exceeds {} bytes", e->size, max_size), where);
  // Raw deflate into exactly the declared size: more output or less is corruption.
  std::string out(e->size, '\0');
  z_stream z{};
  if (::inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error("zlib inflateInit failed", where);
  const std::string_view in = bytes_.substr(e->data_offset, e->compressed_size);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = ::inflate(&z, Z_FINISH);
  const auto produced = z.total_out;
  ::inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != e->size) {
    throw Error(fmt::format("deflate data is corrupt ({} of {} bytes)", produced, e->size), where,
                "the file is corrupt; download or copy it again");
  }
  check_crc(*e, out, where);
  return out;
}

}  // namespace rsclip
