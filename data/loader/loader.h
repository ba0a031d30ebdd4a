// The training data loader: webdataset shards -> batches of images and token ids.
//
//   stream readers (one thread per shard stream: tar, grouping, checks, shuffle buffer)
//     -> collator (one thread: assigns samples to batch rows in a fixed order)
//     -> workers (N threads: decode + augment + tokenize straight into the batch memory)
//     -> ready batches (bounded) -> next()
//
// Determinism. Which sample lands in which row of which batch is decided by the collator
// alone, in a fixed order of pulls from the streams, and each sample's augmentation seed is
// a function of (seed, epoch, rank, stream, pick index); so the batches are identical for
// a fixed seed, world size, `streams` and `prefetch`, whatever the number of workers or
// the thread timing. Batch j comes from stream j mod streams (as batch j of open_clip's
// DataLoader comes from worker j mod workers). A sample the workers reject (undecodable,
// too large) leaves a hole that is filled with the stream's next samples; to keep that
// order fixed while `prefetch` batches are decoded ahead, batch j's holes are filled before
// batch j + prefetch takes its samples.
//
// Epoch length. With samples_per_epoch (or a sizes.json/__len__ next to the shards, as
// open_clip reads it) every rank yields exactly ceil(samples / (batch_size * world))
// batches, so ranks never wait on each other; a stream that runs out starts another pass
// over its shards. Without a count (and a single rank) an epoch is one pass over the
// shards, ending with partial batches. Resampled mode needs samples_per_epoch.
//
// Memory. Batches are allocated in pinned memory when CUDA is available (PyTorch's caching
// host allocator: blocks are reused, and not before an asynchronous copy from them has
// finished), else from a pool of reused buffers. Samples are recycled (sample_pool.h).
//
// Exact resume: state() after a batch, restore() in a new loader (loader_state.h).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>

#include "data/loader/bounded_queue.h"
#include "data/loader/loader_options.h"
#include "data/loader/loader_state.h"
#include "data/loader/pipeline.h"
#include "data/loader/sample_pool.h"
#include "data/loader/sample_processor.h"
#include "data/loader/stream_reader.h"
#include "data/shards/faults.h"

namespace rsclip::data {

struct Batch {
  at::Tensor images;  // [B, 3, S, S] float32 (pinned when CUDA is available)
  at::Tensor tokens;  // [B, context_length] int64
  std::vector<std::string> keys;
  std::int64_t epoch = 0, index = 0;
};

struct LoaderStats {
  std::size_t ready_batches = 0;   // decoded batches waiting for next()
  std::size_t queued_samples = 0;  // picks waiting in the stream queues
  std::size_t samples_allocated = 0;
};

class Loader {
  struct Job;
  struct Task {
    Job* job = nullptr;
    int row = 0;
    Sample* sample = nullptr;
    std::uint64_t seed = 0;
  };
  struct Ready;
  class Memory;

 public:
  Loader(const LoaderOptions& options, ProcessorSpec processor, int rank = 0, int world = 1);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts epoch `epoch` from its beginning (stopping whatever ran before).
  void start_epoch(std::int64_t epoch);
  // Continues from a state() of a loader with the same options, shards, rank and world.
  void restore(const LoaderState& state);

  // The next batch of the epoch; nullopt at its end. Rethrows a failure of the pipeline
  // (rsclip::Error for bad data beyond max_bad_fraction, a stream without usable samples).
  // While it waits, a stop signal (core/base/stop_signal.h) throws stop::StopRequested.
  std::optional<Batch> next();

  // The position after the last batch next() returned (the epoch's start before any).
  LoaderState state() const;
  // Fault counters at that position.
  FaultCounters faults() const { return state().faults(); }
  // Batches per epoch on every rank; -1 for one-pass epochs (length known only at the end).
  std::int64_t batches_per_epoch() const { return batches_per_epoch_; }
  std::int64_t batch_size() const { return batch_size_; }
  int streams() const { return plan_->streams(); }
  LoaderStats stats() const;

 private:
  void stop();
  void launch(const LoaderState& state, std::vector<std::unique_ptr<Job>> pending);
  void collate(std::deque<std::unique_ptr<Job>> in_flight, std::int64_t next_start);
  std::unique_ptr<Job> new_job(std::int64_t index, int stream);
  bool pull(int stream, Pick& pick);
  bool start_batch(std::int64_t index, std::deque<std::unique_ptr<Job>>& in_flight);
  void resolve(Job& job);
  void dispatch(Job& job, int row, const Pick& pick);
  void wait(Job& job, bool interruptible);
  void check_bad_fraction(bool final) const;
  Batch finish_batch(Job& job) const;
  void worker_loop();
  nlohmann::json identity() const;
  LoaderState snapshot(std::int64_t next_batch, const std::deque<std::unique_ptr<Job>>& in_flight,
                       std::size_t skip_front) const;

  LoaderOptions options_;
  ProcessorSpec processor_;
  std::unique_ptr<ShardPlan> plan_;
  StreamSettings stream_settings_;
  std::int64_t batch_size_ = 0;
  std::int64_t batches_per_epoch_ = -1;
  nlohmann::json identity_;  // computed once: it hashes the whole shard list
  std::unique_ptr<Memory> memory_;
  SamplePool pool_;

  // Workers live as long as the loader.
  std::unique_ptr<BoundedQueue<Task>> tasks_;
  std::vector<std::thread> workers_;
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  std::atomic<int> busy_{0};

  // One epoch's pipeline.
  std::int64_t epoch_ = 0;
  std::vector<std::unique_ptr<StreamReader>> readers_;  // null for a stream already ended
  std::vector<StreamState> streams_;                    // collator's view: picks pulled, faults at the last
  std::vector<bool> exhausted_;
  int cursor_ = 0;
  FaultCounters decode_faults_;
  std::thread collator_;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<BoundedQueue<Ready>> ready_;
  LoaderState last_state_;
  bool started_ = false, epoch_done_ = false;
  std::exception_ptr failure_;
  std::int64_t delivered_ = 0;  // batches of this epoch that reached the ready queue
};

}  // namespace rsclip::data
