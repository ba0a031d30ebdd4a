#include "train/report/tensorboard.h"

#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <isa-l/crc.h>

#include "core/base/error.h"

namespace rsclip::train {
namespace fs = std::filesystem;
namespace {

// Protocol-buffer wire format, just what Event needs.
void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void key(std::string& out, int field, int wire_type) {
  varint(out, static_cast<std::uint64_t>(field << 3 | wire_type));
}
void bytes_field(std::string& out, int field, const std::string& bytes) {
  key(out, field, 2);
  varint(out, bytes.size());
  out += bytes;
}
template <class T>
void fixed_field(std::string& out, int field, T value) {  // double: wire type 1, float: 5
  key(out, field, sizeof(T) == 8 ? 1 : 5);
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));  // little-endian hosts only (x86-64, aarch64)
  out.append(raw, sizeof(T));
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Event {wall_time = 1 (double), step = 2 (int64), file_version = 3, summary = 5, session_log = 7}.
std::string event(int64_t step, int field, const std::string& payload) {
  std::string e;
  fixed_field(e, 1, now_seconds());
  key(e, 2, 0);
  varint(e, static_cast<std::uint64_t>(step));
  bytes_field(e, field, payload);
  return e;
}

}  // namespace

std::vector<std::pair<std::string, double>> tensorboard_scalars(const nlohmann::json& record) {
  std::vector<std::pair<std::string, double>> out;
  for (auto it = record.begin(); it != record.end(); ++it) {
    const std::string& k = it.key();
    if (!it->is_number() || k == "step" || k == "epoch") continue;
    out.emplace_back(k.find('/') != std::string::npos ? k : "train/" + k, it->get<double>());
  }
  return out;
}

bool local_file_system(const fs::path& dir) {
  struct statfs s {};
  if (::statfs(dir.c_str(), &s) != 0) return true;
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0x6969:      // NFS
    case 0xFF534D42:  // CIFS
    case 0xFE534D42:  // SMB2
    case 0x517B:      // SMB
    case 0x65735546:  // FUSE (sshfs, s3fs, gcsfuse, ...)
      return false;
    default: return true;
  }
}

std::uint32_t tfrecord_masked_crc(const void* data, std::size_t size) {
  const auto crc =
      ::crc32_iscsi(static_cast<unsigned char*>(const_cast<void*>(data)), static_cast<int>(size), 0xFFFFFFFFu) ^
      0xFFFFFFFFu;
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

EventWriter::EventWriter(const fs::path& dir, int64_t start_step) {
  fs::create_directories(dir);
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  // TensorBoard reads a directory's event files in name order: this session's sorts last.
  int64_t seconds = static_cast<int64_t>(now_seconds());
  for (const auto& e : fs::directory_iterator(dir)) {
    long long earlier = 0;
    if (std::sscanf(e.path().filename().c_str(), "events.out.tfevents.%lld.", &earlier) == 1) {
      seconds = std::max<int64_t>(seconds, earlier + 1);
    }
  }
  path_ = dir / fmt::format("events.out.tfevents.{}.{}.{}.0", seconds, host, ::getpid());
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) throw Error("cannot create the TensorBoard event file", path_.string());
  std::string version;
  fixed_field(version, 1, now_seconds());
  bytes_field(version, 3, "brain.Event:2");
  write_event(version);
  if (start_step >= 0) {
    std::string session_log;  // SessionLog {status = 1: START}
    key(session_log, 1, 0);
    varint(session_log, 1);
    write_event(event(start_step, 7, session_log));
  }
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  std::string summary;
  for (const auto& [tag, v] : values) {
    std::string value;  // Summary.Value {tag = 1, simple_value = 2 (float)}
    bytes_field(value, 1, tag);
    fixed_field(value, 2, static_cast<float>(v));
    bytes_field(summary, 1, value);
  }
  if (!summary.empty()) write_event(event(step, 5, summary));
}

void EventWriter::text(int64_t step, const std::string& tag, const std::string& markdown) {
  std::string plugin;  // PluginData {plugin_name = 1}
  bytes_field(plugin, 1, "text");
  std::string metadata;  // SummaryMetadata {plugin_data = 1}
  bytes_field(metadata, 1, plugin);
  std::string tensor;  // TensorProto {dtype = 1: DT_STRING (7), tensor_shape = 2: scalar, string_val = 8}
  key(tensor, 1, 0);
  varint(tensor, 7);
  bytes_field(tensor, 2, "");
  bytes_field(tensor, 8, markdown);
  std::string value;  // Summary.Value {tag = 1, tensor = 8, metadata = 9}
  bytes_field(value, 1, tag);
  bytes_field(value, 8, tensor);
  bytes_field(value, 9, metadata);
  std::string summary;
  bytes_field(summary, 1, value);
  write_event(event(step, 5, summary));
}

void EventWriter::write_event(const std::string& e) {
  const std::uint64_t length = e.size();
  char header[12];
  std::memcpy(header, &length, 8);
  const std::uint32_t length_crc = tfrecord_masked_crc(header, 8);
  std::memcpy(header + 8, &length_crc, 4);
  const std::uint32_t data_crc = tfrecord_masked_crc(e.data(), e.size());
  if (std::fwrite(header, 1, 12, file_) != 12 || std::fwrite(e.data(), 1, e.size(), file_) != e.size() ||
      std::fwrite(&data_crc, 1, 4, file_) != 4 || std::fflush(file_) != 0) {
    throw Error("write failed (disk full?)", path_.string());
  }
}

}  // namespace rsclip::train
