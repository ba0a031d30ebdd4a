// How ranks learn that one of them failed, so no rank hangs in a collective waiting for a
// peer that is gone. Everything goes through the rendezvous TCPStore (keys under this run's
// prefix):
//
//   failure        "rank R failed: why" - set once (compare-and-set: the first failure wins)
//   failure_ack    counter: peers that have read `failure`
//   alive/R        counter bumped by rank R's watchdog every poll (a heartbeat)
//   finished/R     set when rank R shuts down normally; `finished` counts them
//
// Each rank runs a watchdog thread (its own store connection) that bumps its heartbeat and
// polls `failure`. A failing rank publishes `failure`; the others see it within one poll and
// their waits throw. A collective that errors or times out without a published failure is
// diagnosed from the heartbeats (which rank stopped responding, which already finished) and
// the diagnosis is published the same way, so every rank stops with the same message.
//
// The rank hosting the store (rank 0 unless torchrun's agent hosts it) must outlive the
// others' reads: on failure it waits up to `grace` for every peer's ack, and on a normal
// shutdown until every rank has finished. If it dies anyway, the watchdogs lose the store and
// report that rank as failed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <torch/csrc/distributed/c10d/Store.hpp>

namespace rsclip {

class FailureMonitor {
 public:
  struct Options {
    int rank = 0;
    int world_size = 1;
    std::chrono::milliseconds poll{200};
    std::chrono::milliseconds grace{10000};     // store host: wait for peers to read a failure
    std::chrono::milliseconds shutdown{60000};  // store host: wait for peers to finish
    bool hosts_store = false;
    std::string store_host;  // "rank 0" or "the torchrun agent", for messages
  };

  // Publishes this rank's first heartbeat before returning and starts the watchdog.
  // `on_failure` runs once on the watchdog thread when a peer's failure is seen (aborting
  // the process group, for NCCL).
  FailureMonitor(c10::intrusive_ptr<c10d::Store> store, Options options, std::function<void()> on_failure);
  ~FailureMonitor();
  FailureMonitor(const FailureMonitor&) = delete;
  FailureMonitor& operator=(const FailureMonitor&) = delete;

  bool failed() const { return failed_.load(); }
  // The failure message once failed() (set by this rank or a peer).
  std::string failure() const;

  // This rank failed: publish it (unless a peer's failure is already known), stop the
  // watchdog, and as store host wait for the peers' acks. Never throws.
  void report(const std::string& message) noexcept;
  // `what` errored or timed out on this rank with `error`: returns the published failure,
  // or a diagnosis naming the rank(s) at fault, which it publishes.
  std::string diagnose(const std::string& what, const std::string& error);
  // Normal shutdown: stop the watchdog, announce, and as store host wait for every rank.
  void finish() noexcept;

 private:
  void watch();
  void stop_watchdog();
  void mark_failed(const std::string& message);
  // Publishes `message` unless a failure is already there; returns the one that stands.
  std::string publish(const std::string& message);
  std::string key(const std::string& name) const;
  void wait_for_count(const std::string& counter, int64_t target, std::chrono::milliseconds limit) noexcept;

  c10::intrusive_ptr<c10d::Store> store_;        // caller's thread
  c10::intrusive_ptr<c10d::Store> watch_store_;  // watchdog thread's own connection
  Options options_;
  std::function<void()> on_failure_;

  std::atomic<bool> failed_{false};
  mutable std::mutex mutex_;
  std::string failure_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rsclip
