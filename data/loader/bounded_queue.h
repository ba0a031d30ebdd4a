// A blocking FIFO with a capacity, closable from any thread: the hand-over between the
// loader's threads (stream readers -> collator -> consumer, collator -> workers). Pushing to
// a full queue waits; popping from an empty one waits; close() wakes everyone and makes
// both return false from then on (so no thread blocks forever when the loader stops); what
// was still queued is handed to drain().
#pragma once

#include <cstddef>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace rsclip::data {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  bool push(T value) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(value));
    not_empty_.notify_one();
    return true;
  }

  bool pop(T& out) {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (closed_) return false;
    out = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return true;
  }

  enum class Pop { item, closed, timeout };
  // pop() that gives up after `timeout` (so a waiting consumer can look at other things).
  template <class Rep, class Period>
  Pop pop_for(T& out, std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lock(mutex_);
    if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); })) return Pop::timeout;
    if (closed_) return Pop::closed;
    out = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return Pop::item;
  }

  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  template <class F>
  void drain(F&& f) {
    std::lock_guard lock(mutex_);
    for (auto& item : items_) f(item);
    items_.clear();
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace rsclip::data
