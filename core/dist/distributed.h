// The distributed runtime: one process per device, LibTorch's own c10d underneath.
//
//   auto dist = rsclip::Distributed::from_environment(cfg.distributed, torch::kCUDA);
//   dist->run_or_report([&] { train(*dist); });   // a throw on any rank stops every rank
//
// Start-up follows torch.distributed's env:// rendezvous: a c10d TCPStore at
// MASTER_ADDR:MASTER_PORT (hosted by rank 0, or by torchrun's agent when it says so), then a
// ProcessGroupNCCL (CUDA training) or ProcessGroupGloo (CPU) over it. Launched without
// torchrun/SLURM variables the runtime is disabled: world size 1, no process group, and
// every collective is a no-op, so single-process code needs no special case.
//
// Every collective must be called by every rank in the same order (c10d's rule). A rank
// that fails publishes "rank R failed: why" in the store (see failure_monitor.h); the others
// see it within `failure_poll_s` and their current or next collective throws rsclip::Error
// naming that rank. A collective that errors or times out (`timeout_s`) is diagnosed the
// same way, so no rank hangs silently.
#pragma once

#include <cstddef>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/torch.h>

#include "core/base/error.h"
#include "core/dist/distributed_config.h"
#include "core/dist/launch_env.h"

namespace rsclip {

class FailureMonitor;

// What a rank throws when another rank failed or vanished (a published failure, a broken or
// timed-out collective, a lost store): not this rank's fault, so the trainer exits resumable.
class PeerFailure : public Error {
 public:
  using Error::Error;
};

enum class ReduceOp { sum, mean, max, min };

// One point-to-point transfer of a batch (open_clip's batch_isend_irecv for SigLIP).
struct P2POp {
  enum class Kind { send, recv } kind;
  torch::Tensor tensor;  // sent, or received into (contiguous)
  int peer;
};

class Distributed {
 public:
  // Reads the launch variables (launch_env.h) and joins the process group.
  // `compute_device` is where training runs; it picks the backend when config says auto.
  static std::shared_ptr<Distributed> from_environment(const DistributedConfig& config,
                                                       torch::DeviceType compute_device);
  static std::shared_ptr<Distributed> create(const DistributedConfig& config, const LaunchEnv& env,
                                             torch::DeviceType compute_device);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  bool enabled() const { return backend_.defined(); }
  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  int local_world_size() const { return env_.local_world_size; }
  bool is_primary() const { return env_.rank == 0; }
  const LaunchEnv& launch() const { return env_; }
  const DistributedConfig& config() const { return config_; }
  // "nccl", "gloo", or "none" when disabled.
  const std::string& backend_name() const { return backend_name_; }
  // The device this rank computes on: cuda:LOCAL_RANK under NCCL, else the CPU.
  torch::Device device() const { return device_; }

  // ----- collectives (in place unless they return a tensor) -----------------------------
  void all_reduce(torch::Tensor& tensor, ReduceOp op = ReduceOp::sum);
  void broadcast(torch::Tensor& tensor, int root = 0);
  // Broadcasts many tensors packed into flat chunks of at most `chunk_bytes` (per dtype).
  void broadcast_coalesced(const std::vector<torch::Tensor>& tensors, int root = 0,
                           std::size_t chunk_bytes = std::size_t{250} << 20);
  // Every rank's tensor concatenated along dim 0, rank order; no autograd (see
  // collectives_autograd.h for the differentiable versions).
  torch::Tensor all_gather(const torch::Tensor& tensor);
  // `tensor` is [world * n, ...]; returns this rank's [n, ...] block summed over ranks, in
  // rank order (torch.distributed.nn's all_gather backward).
  torch::Tensor reduce_scatter_sum(const torch::Tensor& tensor);
  // Runs sends and receives as one batch and waits for all of them.
  void batch_send_recv(const std::vector<P2POp>& ops);
  void barrier();

  // An all-reduce in flight (gradient buckets); wait() throws like a blocking collective.
  class Pending {
   public:
    Pending() = default;
    void wait();
    bool defined() const { return work_.defined(); }

   private:
    friend class Distributed;
    Pending(Distributed* owner, c10::intrusive_ptr<c10d::Work> work, const char* what)
        : owner_(owner), work_(std::move(work)), what_(what) {}
    Distributed* owner_ = nullptr;
    c10::intrusive_ptr<c10d::Work> work_;
    const char* what_ = "";
  };
  // Sum all-reduce started now; `tensor` must stay alive until wait().
  Pending all_reduce_async(torch::Tensor& tensor);

  // ----- failure ---------------------------------------------------------------------------
  // This rank is failing: tell every other rank why (first failure wins). Never throws.
  void report_failure(const std::string& message) noexcept;
  // Runs f; an exception is reported to the other ranks, then rethrown.
  template <class F>
  auto run_or_report(F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const std::exception& e) {
      report_failure(e.what());
      throw;
    } catch (...) {
      report_failure("unknown exception");
      throw;
    }
  }

 private:
  Distributed(const DistributedConfig& config, const LaunchEnv& env, torch::DeviceType compute_device);
  void join();
  // Waits for a collective, watching for peer failures; throws rsclip::Error naming the
  // failing rank.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what);
  void throw_if_failed(const char* what) const;
  [[noreturn]] void fail_collective(const char* what, const std::string& error);
  std::chrono::milliseconds timeout() const;

  DistributedConfig config_;
  LaunchEnv env_;
  std::string backend_name_ = "none";
  torch::Device device_{torch::kCPU};
  c10::intrusive_ptr<c10d::Store> store_;  // this run's keys (prefixed by attempt)
  c10::intrusive_ptr<c10d::Backend> backend_;
  std::atomic<c10d::Backend*> abortable_{nullptr};  // backend_ once built, when abort() means something
  std::unique_ptr<FailureMonitor> monitor_;
};

}  // namespace rsclip
