#include "core/dist/failure_monitor.h"

#include <vector>

#include <fmt/format.h>

#include "core/base/log.h"

namespace rsclip {
namespace {

std::vector<uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }
std::string text(const std::vector<uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

std::string rank_list(const std::vector<int>& ranks) {
  std::string out = ranks.size() == 1 ? "rank " : "ranks ";
  for (std::size_t i = 0; i < ranks.size(); ++i) out += (i ? ", " : "") + std::to_string(ranks[i]);
  return out;
}

}  // namespace

FailureMonitor::FailureMonitor(c10::intrusive_ptr<c10d::Store> store, Options options, std::function<void()> on_failure)
    : store_(std::move(store)), options_(std::move(options)), on_failure_(std::move(on_failure)) {
  watch_store_ = store_->clone();
  store_->add(key("alive/" + std::to_string(options_.rank)), 1);
  thread_ = std::thread([this] { watch(); });
}

FailureMonitor::~FailureMonitor() { stop_watchdog(); }

std::string FailureMonitor::key(const std::string& name) const { return "monitor/" + name; }

std::string FailureMonitor::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

void FailureMonitor::mark_failed(const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failed_) return;
  failure_ = message;
  failed_ = true;
}

void FailureMonitor::watch() {
  const std::string alive = key("alive/" + std::to_string(options_.rank));
  const std::string failure = key("failure");
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    lock.unlock();
    std::string seen;
    try {
      watch_store_->add(alive, 1);
      if (watch_store_->check({failure})) seen = text(watch_store_->get(failure));
    } catch (const std::exception& e) {
      lock.lock();
      if (stop_) return;
      lock.unlock();
      seen = fmt::format("{} (which hosts the rendezvous store) stopped responding; the store said: {}",
                         options_.store_host, e.what());
    }
    if (!seen.empty()) {
      mark_failed(seen);
      log::error("{}", seen);
      try {
        watch_store_->add(key("failure_ack"), 1);
      } catch (const std::exception&) {
        // The store is gone: nobody is waiting for this acknowledgement any more.
      }
      if (on_failure_) on_failure_();
      return;
    }
    lock.lock();
    stop_cv_.wait_for(lock, options_.poll, [this] { return stop_; });
  }
}

void FailureMonitor::stop_watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::string FailureMonitor::publish(const std::string& message) {
  const auto standing = text(store_->compareSet(key("failure"), {}, bytes(message)));
  mark_failed(standing);
  return standing;
}

void FailureMonitor::wait_for_count(const std::string& counter, int64_t target,
                                    std::chrono::milliseconds limit) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  try {
    while (store_->add(key(counter), 0) < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(options_.poll / 2);
    }
  } catch (const std::exception&) {
    // The store went away: nothing left to wait for.
  }
}

void FailureMonitor::report(const std::string& message) noexcept {
  try {
    stop_watchdog();
    if (!failed()) publish(fmt::format("rank {} failed: {}", options_.rank, message));
    if (options_.hosts_store) {
      // Every rank but the failing one acknowledges; ranks found dead never will.
      int64_t dead = 0;
      if (store_->check({key("unresponsive")})) dead = std::stoll(text(store_->get(key("unresponsive"))));
      wait_for_count("failure_ack", options_.world_size - 1 - dead, options_.grace);
    }
  } catch (const std::exception& e) {
    log::error("rank {} could not tell the other ranks that it failed: {}", options_.rank, e.what());
  }
}

std::string FailureMonitor::diagnose(const std::string& what, const std::string& error) {
  if (failed()) return failure();
  const std::string failure_key = key("failure");
  try {
    if (store_->check({failure_key})) {
      mark_failed(text(store_->get(failure_key)));
      return failure();
    }
    // Heartbeats that do not move over a few polls belong to dead processes. Our own
    // watchdog keeps beating meanwhile, or peers diagnosing at the same time would blame us.
    auto beats = [&] {
      std::vector<int64_t> out(options_.world_size);
      for (int r = 0; r < options_.world_size; ++r) out[r] = store_->add(key("alive/" + std::to_string(r)), 0);
      return out;
    };
    const auto before = beats();
    const auto deadline = std::chrono::steady_clock::now() + 3 * options_.poll + std::chrono::milliseconds(200);
    while (std::chrono::steady_clock::now() < deadline && !failed()) std::this_thread::sleep_for(options_.poll / 4);
    if (failed()) return failure();
    if (store_->check({failure_key})) {
      mark_failed(text(store_->get(failure_key)));
      return failure();
    }
    const auto after = beats();
    std::vector<int> stale, finished;
    for (int r = 0; r < options_.world_size; ++r) {
      if (r == options_.rank) continue;
      if (store_->check({key("finished/" + std::to_string(r))}))
        finished.push_back(r);
      else if (after[r] == before[r])
        stale.push_back(r);
    }
    std::string message;
    if (!stale.empty()) {
      message = fmt::format("{} stopped responding (crashed or was killed?); {} failed on rank {}: {}",
                            rank_list(stale), what, options_.rank, error);
    } else if (!finished.empty()) {
      message = fmt::format(
          "{} had already shut down normally while rank {} ran {}: the ranks ran different "
          "numbers of collectives ({})",
          rank_list(finished), options_.rank, what, error);
    } else {
      message = fmt::format(
          "{} failed on rank {}: {}; every rank is still alive, so one is stuck outside "
          "collectives or the ranks called different collectives",
          what, options_.rank, error);
    }
    stop_watchdog();
    if (!stale.empty()) store_->set(key("unresponsive"), bytes(std::to_string(stale.size())));
    return publish(message);
  } catch (const std::exception& e) {
    mark_failed(
        fmt::format("{} failed on rank {}: {}; and {} (which hosts the rendezvous store) is unreachable, "
                    "so it has probably exited: {}",
                    what, options_.rank, error, options_.store_host, e.what()));
    return failure();
  }
}

void FailureMonitor::finish() noexcept {
  stop_watchdog();
  try {
    store_->set(key("finished/" + std::to_string(options_.rank)), bytes("1"));
    store_->add(key("finished"), 1);
    if (!options_.hosts_store) return;
    // Peers still use the store until they finish; a failure among them needs the grace wait.
    const auto deadline = std::chrono::steady_clock::now() + options_.shutdown;
    while (std::chrono::steady_clock::now() < deadline) {
      if (store_->add(key("finished"), 0) >= options_.world_size) return;
      if (store_->check({key("failure")})) {
        wait_for_count("failure_ack", options_.world_size - 1, options_.grace);
        return;
      }
      std::this_thread::sleep_for(options_.poll / 2);
    }
    log::warn("rank {} shut down the rendezvous store before every rank finished", options_.rank);
  } catch (const std::exception& e) {
    log::warn("rank {}: store unreachable at shutdown: {}", options_.rank, e.what());
  }
}

}  // namespace rsclip
