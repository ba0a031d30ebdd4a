// A bounded reader for the zip archives torch.save and torch.jit.save write (PKWARE
// APPNOTE 6.3, the subset miniz produces for PyTorchStreamWriter):
//
//   [local header 30 B + name + extra(padding to 64-byte aligned data)] [data] ...
//   [central directory: one 46 B header + name + extra + comment per entry]
//   [zip64 end record 56 B + zip64 locator 20 B]   (only when sizes/offsets need 64 bits)
//   [end of central directory 22 B + comment]
//
// Only the central directory is trusted for names and sizes; each entry's local header is
// checked (signature, same name) to find where its data starts. Every offset and count is
// checked against the bytes actually present before use: entry count against the size of
// the central directory, each entry's data inside the file and before the directory, and
// no two entries' [header, data end) ranges overlapping, so the total of all records is at
// most the file size (no "zip bomb" by many entries naming the same bytes). Records must be
// stored (method 0, what torch writes); reading one checks its CRC-32 unless the writer
// left it 0 (torch's compute_crc32=False). Malformed input -> rsclip::Error naming `name`.
//
// The archive does not own the bytes: they must outlive it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rsclip {

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    std::uint16_t method = 0;
    std::uint16_t flags = 0;
    std::uint32_t crc32 = 0;
    std::uint64_t compressed_size = 0;
    std::uint64_t size = 0;
    std::uint64_t header_offset = 0;
    std::uint64_t data_offset = 0;
  };

  ZipArchive(std::string_view bytes, std::string name);

  // Entries in central-directory order (the order they were written).
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(std::string_view entry_name) const;

  // The record's bytes, a view into the archive, after checking method and CRC-32.
  // rsclip::Error if it is missing, compressed, encrypted or corrupt.
  std::string_view read(std::string_view entry_name) const;
  // A small record, stored or deflated (TorchScript's code/ files are deflated), of at most
  // `max_size` bytes uncompressed, after checking its CRC-32.
  std::string read_small(std::string_view entry_name, std::size_t max_size) const;

  const std::string& name() const { return name_; }

 private:
  void check_crc(const Entry& e, std::string_view data, const std::string& where) const;
  void parse_central_directory(std::uint64_t cd_offset, std::uint64_t cd_size, std::uint64_t count);
  void locate_data();

  std::string_view bytes_;
  std::string name_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string_view, std::size_t> index_;
};

}  // namespace rsclip
