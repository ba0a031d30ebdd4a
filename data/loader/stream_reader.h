// One shard stream of one rank, on its own thread: reads the stream's shards in plan order
// (pipeline.h), groups and checks samples (data/shards/webdataset.h), feeds them through the stream's
// shuffle buffer and queues the picks for the collator. Shard-level faults are logged and
// counted here; a shard that cannot be opened or breaks off is skipped.
//
// The stream can start mid-epoch (loader_state.h): from a pass, a shard position, a number
// of accepted samples of that shard to skip (their faults were counted before), and a
// restored shuffle buffer with its generator state.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "data/loader/bounded_queue.h"
#include "data/loader/pipeline.h"
#include "data/loader/sample_pool.h"
#include "data/shards/faults.h"
#include "data/shards/webdataset.h"

namespace rsclip::data {

// Accepted samples per finished shard, keyed by (pass, position): what a replay needs.
using ShardCounts = std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t>;

struct Pick {
  Sample* sample = nullptr;  // nullptr: the stream has ended (one-pass epochs only)
  std::uint64_t index = 0;   // position in the stream's pick sequence of this epoch
  FaultCounters faults;      // the stream's shard/sample faults counted up to this pick
  std::exception_ptr error;  // set: the stream failed (rethrown by the collator)
};

struct StreamSettings {
  FieldChoice choice;
  std::uint64_t max_member_bytes = 64 << 20;
  bool one_pass = false;  // end after pass 0 instead of starting another pass
  std::size_t queue_capacity = 256;
};

struct StreamStart {
  std::uint32_t pass = 0;
  std::uint32_t position = 0;
  std::uint64_t skip = 0;        // accepted samples of the shard at `position` already read
  bool restored_buffer = false;  // use `buffer`, `rng`, `input_done` for the first pass
  std::vector<Sample*> buffer;   // in buffer order (positions matter for later picks)
  PyRandom rng;
  bool input_done = false;
  std::uint64_t picks = 0;  // index of the next pick
  FaultCounters faults;
  ShardCounts counts;
};

class StreamReader {
 public:
  StreamReader(const ShardPlan& plan, std::int64_t epoch, int stream, const StreamSettings& settings, SamplePool& pool,
               StreamStart start = {});
  ~StreamReader();
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;

  // The next pick (blocking); false once stopped.
  bool pop(Pick& out) { return queue_.pop(out); }
  ShardCounts counts() const;
  std::size_t queued() const { return queue_.size(); }
  // Stops the thread and returns every sample it holds to the pool.
  void stop();

 private:
  void run(StreamStart start);
  bool next_input(Sample*& out);
  void close_shard();
  void set_child(pid_t child);
  std::string finish_shard();
  void shard_failed(Fault kind, const std::string& label);
  void stop_if_all_failed() const;
  void record_count(std::uint64_t count);
  bool emit(Pick pick);

  const ShardPlan& plan_;
  std::int64_t epoch_;
  int stream_;
  StreamSettings settings_;
  SamplePool& pool_;
  BoundedQueue<Pick> queue_;
  std::atomic<bool> stopping_{false};

  // Reader state (reader thread only).
  std::uint32_t pass_ = 0, position_ = 0;
  std::uint64_t skip_ = 0, accepted_ = 0, empty_run_ = 0;
  std::optional<ShardSequence> sequence_;
  std::unique_ptr<TarReader> tar_;
  std::unique_ptr<SampleGrouper> grouper_;
  TarSample grouped_;
  Sample* scratch_ = nullptr;
  FaultCounters faults_;
  static constexpr std::size_t kNamedFailures = 5;     // failed shards named in messages
  static constexpr std::int64_t kEarlyStopShards = 3;  // all failed after this many: stop
  std::vector<std::string> failed_shards_;
  std::uint64_t accepted_total_ = 0;  // samples this stream accepted, over shards and passes

  std::mutex child_mutex_;
  pid_t child_ = -1;  // the current shard's pipe command (stop() ends it)

  mutable std::mutex counts_mutex_;
  ShardCounts counts_;
  std::thread thread_;
};

}  // namespace rsclip::data
