// Test fixture: hand-made tar archives, byte by byte, for the reader, grouping, fault
// injection and fuzz-seed tests. ustar headers; names longer than 100 bytes get a GNU
// long-name ('L') record first. Corruptions are applied by the tests to the returned bytes.
#pragma once

#include <cstdio>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace rsclip::testing {

struct TarMember {
  std::string name;
  std::string data;
  char type = '0';  // '0' file, '5' directory, '2' symlink
};

inline void tar_header(std::string& out, const std::string& name, std::size_t size, char type) {
  char h[512] = {};
  std::memcpy(h, name.data(), std::min<std::size_t>(name.size(), 100));
  std::snprintf(h + 100, 8, "%07o", 0644);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011llo", static_cast<unsigned long long>(size));
  std::snprintf(h + 136, 12, "%011o", 0);
  std::memset(h + 148, ' ', 8);
  h[156] = type;
  std::memcpy(h + 257, "ustar\00000", 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
  out.append(h, 512);
}

inline void tar_data(std::string& out, const std::string& data) {
  out += data;
  out.append((512 - data.size() % 512) % 512, '\0');
}

inline std::string make_tar(const std::vector<TarMember>& members, bool end_blocks = true) {
  std::string out;
  for (const auto& m : members) {
    if (m.name.size() > 100) {
      tar_header(out, "././@LongLink", m.name.size() + 1, 'L');
      tar_data(out, m.name + '\0');
    }
    tar_header(out, m.name, m.type == '0' ? m.data.size() : 0, m.type);
    if (m.type == '0') tar_data(out, m.data);
  }
  if (end_blocks) out.append(1024, '\0');
  return out;
}

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace rsclip::testing
