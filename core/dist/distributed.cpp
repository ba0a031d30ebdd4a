#include "core/dist/distributed.h"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "core/base/error.h"
#include "core/base/log.h"
#include "core/dist/failure_monitor.h"
#include "core/dist/process_group.h"

namespace rsclip {
namespace {

using std::chrono::milliseconds;

milliseconds to_ms(double seconds) { return milliseconds(static_cast<int64_t>(seconds * 1000.0)); }

c10d::ReduceOp to_c10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::max: return c10d::ReduceOp::MAX;
    case ReduceOp::min: return c10d::ReduceOp::MIN;
    case ReduceOp::sum:
    case ReduceOp::mean: break;
  }
  return c10d::ReduceOp::SUM;
}

constexpr const char* kFailureHint =
    "the log of the rank named above shows the original error; the other ranks stop because of it";

}  // namespace

void DistributedConfig::validate() const {
  if (backend != "auto" && backend != "gloo" && backend != "nccl") {
    throw Error("unknown backend '" + backend + "'", "backend", "use auto, gloo or nccl");
  }
  if (!(timeout_s > 0)) throw Error("must be positive", "timeout_s");
  if (!(init_timeout_s > 0)) throw Error("must be positive", "init_timeout_s");
  if (!(bucket_mb > 0)) throw Error("must be positive", "bucket_mb");
  if (!(failure_poll_s > 0) || failure_poll_s > timeout_s) {
    throw Error("must be positive and below timeout_s", "failure_poll_s");
  }
  if (failure_grace_s < 0) throw Error("must not be negative", "failure_grace_s");
}

std::shared_ptr<Distributed> Distributed::from_environment(const DistributedConfig& config,
                                                           torch::DeviceType compute_device) {
  return create(config, read_launch_env(), compute_device);
}

std::shared_ptr<Distributed> Distributed::create(const DistributedConfig& config, const LaunchEnv& env,
                                                 torch::DeviceType compute_device) {
  config.validate();
  std::shared_ptr<Distributed> dist(new Distributed(config, env, compute_device));
  if (env.distributed()) dist->join();
  return dist;
}

Distributed::Distributed(const DistributedConfig& config, const LaunchEnv& env, torch::DeviceType compute_device)
    : config_(config), env_(env) {
  if (!env.distributed()) {
    env_ = LaunchEnv{};
    return;
  }
  std::string backend = config.backend;
  if (backend == "auto") backend = compute_device == torch::kCUDA ? "nccl" : "gloo";
  if (backend == "nccl" && !detail::nccl_available()) {
    throw Error("the nccl backend needs CUDA, which is not available", "distributed.backend",
                "use backend: gloo (or auto) for CPU training");
  }
  backend_name_ = backend;
  device_ = backend == "nccl" ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank))
                              : torch::Device(torch::kCPU);
}

milliseconds Distributed::timeout() const { return to_ms(config_.timeout_s); }

void Distributed::join() {
  log::set_rank(env_.rank);
  const std::string where =
      fmt::format("rendezvous at {}:{} ({})", env_.master_addr, env_.master_port, env_.launcher_name());
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(env_.master_port);
  options.isServer = env_.rank == 0 && !env_.agent_store;
  options.numWorkers = static_cast<std::size_t>(env_.world_size);
  options.waitWorkers = true;
  options.timeout = to_ms(config_.init_timeout_s);
  c10::intrusive_ptr<c10d::Store> tcp;
  try {
    tcp = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, options);
  } catch (const std::exception& e) {
    std::string hint =
        "start all " + std::to_string(env_.world_size) +
        " processes within distributed.init_timeout_s, and check that MASTER_ADDR is reachable and MASTER_PORT "
        "free on its host";
    if (env_.launcher == LaunchEnv::Launcher::slurm) hint += "; under SLURM start rsclip with srun, one task per GPU";
    throw Error(fmt::format("rank {} of {} could not join: {}", env_.rank, env_.world_size, e.what()), where, hint);
  }
  // A torchrun agent's store outlives restarts: this attempt's keys get their own prefix.
  store_ = c10::make_intrusive<c10d::PrefixStore>("rsclip/" + std::to_string(env_.restart_count) + "/", tcp);
  store_->setTimeout(timeout());

  FailureMonitor::Options monitor;
  monitor.rank = env_.rank;
  monitor.world_size = env_.world_size;
  monitor.poll = to_ms(config_.failure_poll_s);
  monitor.grace = to_ms(config_.failure_grace_s);
  monitor.shutdown = timeout();
  monitor.hosts_store = options.isServer;
  monitor.store_host = env_.agent_store ? "the torchrun agent" : "rank 0";
  // Runs on the watchdog thread, possibly while backend_ is still being built.
  monitor_ = std::make_unique<FailureMonitor>(store_, monitor, [this] {
    if (auto* backend = abortable_.load()) backend->abort();
  });

  try {
    backend_ = detail::make_backend(backend_name_, c10::make_intrusive<c10d::PrefixStore>("pg/", store_), env_.rank,
                                    env_.world_size, timeout(), env_.local_rank);
  } catch (const Error& e) {
    report_failure(e.what());
    throw;
  } catch (const std::exception& e) {
    report_failure(e.what());
    throw Error(fmt::format("could not create the {} process group: {}", backend_name_, e.what()), where);
  }
  // NCCL must be aborted for blocked kernels to return; Gloo's abort() does nothing.
  if (backend_name_ == "nccl") abortable_ = backend_.get();
  log::info("distributed: rank {}/{} (local {}/{}), backend {}, launched by {}", env_.rank, env_.world_size,
            env_.local_rank, env_.local_world_size, backend_name_, env_.launcher_name());
}

Distributed::~Distributed() {
  if (!monitor_) return;
  if (!monitor_->failed() && std::uncaught_exceptions() > 0) report_failure("exited while unwinding an exception");
  if (monitor_->failed()) {
    // Destroying a process group joins its worker threads, which may be blocked on a peer
    // that is itself shutting down; leave it to process exit, which closes the sockets.
    if (backend_.defined()) (void)backend_.release();
    monitor_.reset();
    return;
  }
  monitor_->finish();
  try {
    backend_->shutdown();  // what destroy_process_group() does first (NCCL frees its communicators)
  } catch (const std::exception& e) {
    log::warn("process group shutdown: {}", e.what());
  }
  abortable_ = nullptr;
  backend_.reset();
  monitor_.reset();
}

void Distributed::report_failure(const std::string& message) noexcept {
  if (!monitor_) return;
  monitor_->report(message);
  try {
    if (auto* backend = abortable_.load()) backend->abort();
  } catch (const std::exception& e) {
    log::error("aborting the NCCL process group failed: {}", e.what());
  }
}

void Distributed::throw_if_failed(const char* what) const {
  if (monitor_ && monitor_->failed()) {
    throw PeerFailure(monitor_->failure(), fmt::format("rank {} ({})", env_.rank, what), kFailureHint);
  }
}

void Distributed::fail_collective(const char* what, const std::string& error) {
  const std::string message = monitor_ ? monitor_->diagnose(what, error) : error;
  throw PeerFailure(message, fmt::format("rank {} ({})", env_.rank, what), kFailureHint);
}

void Distributed::wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
  throw_if_failed(what);
  if (backend_name_ == "nccl") {
    // Host-side NCCL waits only order streams; hangs are ProcessGroupNCCL's watchdog's to
    // catch (it aborts after the timeout) and a peer's published failure aborts it too.
    try {
      work->wait();
    } catch (const std::exception& e) {
      fail_collective(what, e.what());
    }
    throw_if_failed(what);
    return;
  }
  struct Done {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
  };
  auto done = std::make_shared<Done>();
  work->getFuture()->addCallback([done](c10::ivalue::Future&) {
    {
      std::lock_guard<std::mutex> lock(done->mutex);
      done->done = true;
    }
    done->cv.notify_all();
  });
  // Gloo fails the work itself after `timeout`; the margin only guards against a wedge.
  const auto deadline = std::chrono::steady_clock::now() + timeout() + std::chrono::seconds(10);
  const auto poll = to_ms(config_.failure_poll_s);
  {
    std::unique_lock<std::mutex> lock(done->mutex);
    while (!done->done) {
      if (monitor_->failed()) {
        lock.unlock();
        throw_if_failed(what);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        lock.unlock();
        fail_collective(what, fmt::format("no result after {} s", config_.timeout_s));
      }
      done->cv.wait_for(lock, poll);
    }
  }
  try {
    work->wait();
  } catch (const std::exception& e) {
    fail_collective(what, e.what());
  }
}

void Distributed::all_reduce(torch::Tensor& tensor, ReduceOp op) {
  if (!enabled()) return;
  std::vector<torch::Tensor> tensors{tensor};
  c10d::AllreduceOptions options;
  options.reduceOp = to_c10d(op);
  options.timeout = timeout();
  wait(backend_->allreduce(tensors, options), "all_reduce");
  // Gloo has no AVG; summing then dividing is what both backends can do identically.
  if (op == ReduceOp::mean) tensor.div_(env_.world_size);
}

Distributed::Pending Distributed::all_reduce_async(torch::Tensor& tensor) {
  if (!enabled()) return {};
  throw_if_failed("all_reduce");
  std::vector<torch::Tensor> tensors{tensor};
  c10d::AllreduceOptions options;
  options.timeout = timeout();
  return Pending(this, backend_->allreduce(tensors, options), "gradient all_reduce");
}

void Distributed::Pending::wait() {
  if (!work_.defined()) return;
  auto work = std::move(work_);
  owner_->wait(work, what_);
}

void Distributed::broadcast(torch::Tensor& tensor, int root) {
  if (!enabled()) return;
  TORCH_CHECK(root >= 0 && root < env_.world_size, "broadcast root ", root, " out of range");
  std::vector<torch::Tensor> tensors{tensor};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  options.timeout = timeout();
  wait(backend_->broadcast(tensors, options), "broadcast");
}

void Distributed::broadcast_coalesced(const std::vector<torch::Tensor>& tensors, int root, std::size_t chunk_bytes) {
  if (!enabled() || tensors.empty()) return;
  // Chunks of consecutive same-dtype/device tensors, flattened, one broadcast each (torch
  // DDP's _broadcast_coalesced does the same for the initial parameter sync).
  std::size_t begin = 0;
  while (begin < tensors.size()) {
    const auto options = tensors[begin].options();
    std::size_t end = begin, bytes = 0;
    while (end < tensors.size() && tensors[end].options().dtype() == options.dtype() &&
           tensors[end].device() == tensors[begin].device() && (end == begin || bytes < chunk_bytes)) {
      bytes += tensors[end].numel() * tensors[end].element_size();
      ++end;
    }
    std::vector<torch::Tensor> flat_parts;
    for (std::size_t i = begin; i < end; ++i) flat_parts.push_back(tensors[i].detach().reshape(-1));
    auto flat = torch::cat(flat_parts);
    broadcast(flat, root);
    int64_t offset = 0;
    torch::NoGradGuard no_grad;
    for (std::size_t i = begin; i < end; ++i) {
      const int64_t n = tensors[i].numel();
      tensors[i].copy_(flat.narrow(0, offset, n).view_as(tensors[i]));
      offset += n;
    }
    begin = end;
  }
}

torch::Tensor Distributed::all_gather(const torch::Tensor& tensor) {
  if (!enabled()) return tensor;
  auto input = tensor.detach().contiguous();
  auto sizes = input.sizes().vec();
  TORCH_CHECK(!sizes.empty(), "all_gather needs at least one dimension");
  sizes[0] *= env_.world_size;
  auto output = torch::empty(sizes, input.options());
  c10d::AllgatherOptions options;
  options.timeout = timeout();
  wait(backend_->_allgather_base(output, input, options), "all_gather");
  return output;
}

torch::Tensor Distributed::reduce_scatter_sum(const torch::Tensor& tensor) {
  if (!enabled()) return tensor;
  auto input = tensor.detach().contiguous();
  TORCH_CHECK(input.dim() >= 1 && input.size(0) % env_.world_size == 0, "reduce_scatter_sum: dim 0 (", input.size(0),
              ") must be a multiple of the world size ", env_.world_size);
  auto sizes = input.sizes().vec();
  sizes[0] /= env_.world_size;
  if (backend_name_ == "nccl") {
    auto output = torch::empty(sizes, input.options());
    c10d::ReduceScatterOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    options.timeout = timeout();
    wait(backend_->_reduce_scatter_base(output, input, options), "reduce_scatter");
    return output;
  }
  // torch.distributed.nn's non-NCCL path: all-to-all, then a sum in rank order.
  auto received = torch::empty_like(input);
  std::vector<int64_t> even_split;
  c10d::AllToAllOptions options;
  options.timeout = timeout();
  wait(backend_->alltoall_base(received, input, even_split, even_split, options), "reduce_scatter (all_to_all)");
  sizes.insert(sizes.begin(), env_.world_size);
  return received.view(sizes).sum(0);
}

void Distributed::batch_send_recv(const std::vector<P2POp>& ops) {
  if (!enabled() || ops.empty()) return;
  // One tag for the whole batch, as torch's batch_isend_irecv uses: per peer, sends and
  // receives match in issue order. NCCL needs the batch coalesced, or two ranks sending to
  // each other first would wait on each other.
  const bool coalesce = backend_name_ == "nccl";
  if (coalesce) backend_->startCoalescing();
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (const auto& op : ops) {
    TORCH_CHECK(op.peer >= 0 && op.peer < env_.world_size && op.peer != env_.rank, "p2p peer ", op.peer,
                " invalid for rank ", env_.rank);
    TORCH_CHECK(op.tensor.is_contiguous(), "p2p tensors must be contiguous");
    std::vector<torch::Tensor> tensors{op.tensor};
    works.push_back(op.kind == P2POp::Kind::send ? backend_->send(tensors, op.peer, 0)
                                                 : backend_->recv(tensors, op.peer, 0));
  }
  if (coalesce) {
    auto work = backend_->endCoalescing();
    if (work.defined()) works = {work};
  }
  for (const auto& work : works) {
    if (coalesce) {
      wait(work, "send/recv");
      continue;
    }
    // Gloo's send/recv works have no future to watch; they end on completion, on the peer
    // closing its connection, or after the timeout.
    throw_if_failed("send/recv");
    try {
      work->wait(timeout());
    } catch (const std::exception& e) {
      fail_collective("send/recv", e.what());
    }
  }
}

void Distributed::barrier() {
  if (!enabled()) return;
  c10d::BarrierOptions options;
  options.timeout = timeout();
  if (backend_name_ == "nccl") options.device_ids = {static_cast<int64_t>(env_.local_rank)};
  wait(backend_->barrier(options), "barrier");
}

}  // namespace rsclip
