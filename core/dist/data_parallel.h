// Data-parallel gradient averaging (torch DDP's Reducer, reduced to what rsclip needs).
//
//   rsclip::DataParallel ddp(dist, model->named_parameters());  // broadcasts rank 0's values
//   for (micro-batch m) {
//     auto guard = m + 1 < n ? ddp.no_sync() : rsclip::DataParallel::NoSync{};
//     loss(m).backward();          // buckets are all-reduced while backward still runs
//   }
//   ddp.synchronize();             // every trainable .grad() is now the mean over ranks
//   optimizer.step();
//
// Trainable parameters (requires_grad) are packed into flat buckets of about
// `bucket_mb` (the first one 1 MB, so communication starts early), in reverse registration
// order - roughly the order backward produces gradients - per dtype and device. A
// post-accumulate-grad hook on each parameter copies its gradient into its bucket; when
// every gradient of a bucket is in, and all earlier buckets have started, the bucket is
// divided by the world size and all-reduced asynchronously. Frozen parameters are never
// communicated. After synchronize() each .grad() is a view into its bucket (torch DDP's
// gradient_as_bucket_view), so zero_grad() in either form keeps working.
//
// Inside no_sync() hooks do nothing and gradients accumulate locally; the next synced
// backward reduces the accumulated sum. A parameter that gets no gradient contributes
// zeros (as DDP with find_unused_parameters), so every rank runs the same collectives.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/dist/distributed.h"

namespace rsclip {

struct DataParallelStats {
  int64_t bytes_reduced = 0;       // gradient bytes all-reduced (frozen parameters never count)
  int64_t buckets_reduced = 0;     // bucket all-reduces started
  int64_t buckets_overlapped = 0;  // ... of which from a gradient hook, while backward ran
  int64_t bytes_broadcast = 0;     // parameter bytes broadcast from rank 0 at start
  int64_t syncs = 0;               // synchronize() calls that reduced
  double wait_seconds = 0;         // time synchronize() spent waiting: communication not hidden
};

class DataParallel {
 public:
  DataParallel(std::shared_ptr<Distributed> dist, const torch::OrderedDict<std::string, torch::Tensor>& parameters,
               double bucket_mb = 25);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Starts the buckets backward did not complete, waits for all, and points every
  // trainable .grad() at its averaged value.
  void synchronize();

  // While alive, backward passes accumulate gradients locally without communicating.
  class NoSync {
   public:
    NoSync() = default;
    NoSync(NoSync&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    NoSync& operator=(NoSync&&) = delete;
    ~NoSync();

   private:
    friend class DataParallel;
    explicit NoSync(DataParallel* owner) : owner_(owner) {}
    DataParallel* owner_ = nullptr;
  };
  [[nodiscard]] NoSync no_sync();

  const DataParallelStats& stats() const;
  // Parameter names per bucket, in all-reduce order.
  std::vector<std::vector<std::string>> buckets() const;
  int64_t trainable_numel() const;
  int64_t frozen_numel() const;

  struct State;  // shared with the gradient hooks

 private:
  std::shared_ptr<Distributed> dist_;
  std::unique_ptr<State> state_;
};

}  // namespace rsclip
