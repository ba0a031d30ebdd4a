// Recycled Sample objects: a sample's buffers (image bytes, caption, key) keep their
// capacity from one use to the next, so once the shuffle buffers and queues are full the
// loader allocates nothing per sample. The pool owns every Sample it ever made.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "data/shards/webdataset.h"

namespace rsclip::data {

class SamplePool {
 public:
  // A free sample, made when none is free (the pipeline's bounded buffers and queues bound
  // how many can be in use at once).
  Sample* acquire() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) {
      all_.push_back(std::make_unique<Sample>());
      return all_.back().get();
    }
    Sample* s = free_.back();
    free_.pop_back();
    return s;
  }
  void release(Sample* s) {
    if (!s) return;
    std::lock_guard lock(mutex_);
    free_.push_back(s);
  }
  std::size_t allocated() const {
    std::lock_guard lock(mutex_);
    return all_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Sample>> all_;
  std::vector<Sample*> free_;
};

}  // namespace rsclip::data
