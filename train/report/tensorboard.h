// TensorBoard event files, written without TensorFlow or protobuf: the documented record
// format (tensorflow/core/lib/io/record_writer.cc) -- uint64 length, uint32 masked CRC-32C of
// the length, the bytes, uint32 masked CRC-32C of the bytes, all little-endian, with the
// CRC from Intel's ISA-L (crc32_iscsi) -- around `Event` messages encoded by hand
// (tensorflow/core/util/event.proto, summary.proto): wall_time, step, and a Summary of
// scalar values (simple_value) or one text value (a string tensor for the text plugin).
//
//   RUN/tensorboard/events.out.tfevents.<seconds>.<host>.<pid>.0
//
// One file per session, named to sort after the run's earlier ones; a resumed run's file
// begins with a SessionLog START at its first step, so TensorBoard drops what an interrupted
// session wrote from that step on (it keeps events of earlier steps).
// `tensorboard --logdir runs` shows every run.
#pragma once

#include <cstdio>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace rsclip::train {

class EventWriter {
 public:
  // Creates DIR/events.out.tfevents.* and writes the file-version event; `start_step` >= 0
  // also writes a SessionLog START at that step.
  EventWriter(const std::filesystem::path& dir, int64_t start_step);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  void scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values);
  void text(int64_t step, const std::string& tag, const std::string& markdown);
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_event(const std::string& event);
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// A metrics.jsonl record as TensorBoard scalars: evaluation keys (eval/..., eval_ema/...) as
// they are, the other numbers under train/ (train/loss, train/lr, train/data_wait, ...); step
// and epoch are the axis, not scalars.
std::vector<std::pair<std::string, double>> tensorboard_scalars(const nlohmann::json& record);

// Whether `logging.tensorboard: auto` writes events for a run directory: yes unless it lies on
// a network or FUSE file system (NFS, SMB, sshfs, s3fs), where TensorBoard reads remotely anyway.
bool local_file_system(const std::filesystem::path& dir);

// The masked CRC-32C of TFRecords: rotate right by 15 bits, add 0xa282ead8.
std::uint32_t tfrecord_masked_crc(const void* data, std::size_t size);

}  // namespace rsclip::train
