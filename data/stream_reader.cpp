#include "data/stream_reader.h"

#include <algorithm>

#include "core/error.h"
#include "core/log.h"

namespace rsclip::data {

StreamReader::StreamReader(const ShardPlan& plan, std::int64_t epoch, int stream, const StreamSettings& settings,
                           SamplePool& pool, StreamStart start)
    : plan_(plan),
      epoch_(epoch),
      stream_(stream),
      settings_(settings),
      pool_(pool),
      queue_(settings.queue_capacity),
      counts_(start.counts) {
  thread_ = std::thread([this, s = std::move(start)]() mutable { run(std::move(s)); });
}

StreamReader::~StreamReader() { stop(); }

void StreamReader::stop() {
  stopping_ = true;
  queue_.close();
  if (thread_.joinable()) thread_.join();
  queue_.drain([&](Pick& p) { pool_.release(p.sample); });
}

ShardCounts StreamReader::counts() const {
  std::lock_guard lock(counts_mutex_);
  return counts_;
}

bool StreamReader::emit(Pick pick) {
  if (stopping_) return false;
  return queue_.push(std::move(pick));
}

void StreamReader::record_count(std::uint64_t count) {
  std::lock_guard lock(counts_mutex_);
  counts_[{pass_, position_}] = count;
}

void StreamReader::close_shard() {
  record_count(accepted_);
  empty_run_ = accepted_ == 0 ? empty_run_ + 1 : 0;
  grouper_.reset();
  tar_.reset();
  ++position_;
  skip_ = 0;
  accepted_ = 0;
}

// The shuffle buffer's input: the next accepted sample of this pass, false at its end.
bool StreamReader::next_input(Sample*& out) {
  while (!stopping_) {
    if (!tar_) {
      // A long run of shards without a single usable sample (resampled streams have no end
      // to stop at) means the data is unusable, not unlucky.
      const std::uint64_t limit = std::max<std::uint64_t>(100, 3 * plan_.urls().size());
      if (!sequence_->finite() && empty_run_ >= limit)
        throw Error(std::to_string(empty_run_) + " shards in a row had no usable sample", "data.shards",
                    "check the shards with `rsclip shards --inspect`");
      const auto shard = sequence_->at(position_);
      if (!shard) return false;
      const std::string& url = plan_.urls()[*shard];
      try {
        tar_ = std::make_unique<TarReader>(ShardInput::open(url));
      } catch (const Error& e) {
        log::warn("data: skipping shard: {}", e.what());
        ++faults_[Fault::unreadable_shard];
        close_shard();
        continue;
      }
      const bool skipping = skip_ > 0;
      grouper_ = std::make_unique<SampleGrouper>(
          *tar_, settings_.max_member_bytes, [this, skipping](std::string_view ext) {
            if (!settings_.choice.wanted(ext)) return false;
            // While skipping samples read before a restore, only captions are needed (to tell
            // accepted from rejected); the next sample may already be one to keep.
            if (!skipping || accepted_ + 1 >= skip_) return true;
            return std::find(settings_.choice.text.begin(), settings_.choice.text.end(), ext) !=
                   settings_.choice.text.end();
          });
    }
    try {
      if (!grouper_->next(grouped_)) {
        const std::string failure = tar_->finish();
        if (!failure.empty()) {
          log::warn("data: shard {}: {}", tar_->label(), failure);
          if (tar_->members() == 0) ++faults_[Fault::unreadable_shard];
        }
        close_shard();
        continue;
      }
    } catch (const TarError& e) {
      const std::string failure = tar_->finish();
      const bool nothing = tar_->members() == 0 && !failure.empty();
      log::warn("data: shard {}: {}{}", tar_->label(), e.message(), failure.empty() ? "" : " (" + failure + ")");
      ++faults_[nothing ? Fault::unreadable_shard
                        : e.kind() == TarError::Kind::truncated ? Fault::truncated_tar : Fault::corrupt_tar];
      close_shard();
      continue;
    }
    if (!scratch_) scratch_ = pool_.acquire();
    const bool skipping = accepted_ < skip_;
    if (const auto fault = accept_sample(grouped_, settings_.choice, *scratch_)) {
      if (!skipping) ++faults_[*fault];
      continue;
    }
    scratch_->ref = {pass_, position_, accepted_++};
    if (skipping) continue;
    out = scratch_;
    scratch_ = nullptr;
    return true;
  }
  return false;
}

void StreamReader::run(StreamStart start) {
  pass_ = start.pass;
  position_ = start.position;
  skip_ = start.skip;
  faults_ = start.faults;
  std::uint64_t picks = start.picks;
  bool first = true;
  try {
    while (!stopping_) {
      sequence_ = plan_.sequence(epoch_, stream_, pass_);
      ShuffleBuffer<Sample*> buffer(plan_.options().shuffle_buffer, plan_.options().shuffle_initial,
                                    plan_.shuffle_seed(epoch_, stream_, pass_));
      if (first && start.restored_buffer) buffer.restore(std::move(start.buffer), start.rng, start.input_done);
      // Whatever is still buffered when this pass stops early (stop, error) goes back to the pool.
      struct Release {
        SamplePool& pool;
        std::vector<Sample*>& items;
        ~Release() {
          for (Sample* s : items) pool.release(s);
          items.clear();
        }
      } release{pool_, buffer.items()};
      if (!first) position_ = 0, skip_ = 0;
      first = false;
      auto source = [this](Sample*& out) { return next_input(out); };
      Sample* sample = nullptr;
      while (buffer.next(source, sample)) {
        if (!emit(Pick{sample, picks++, faults_, nullptr})) {
          pool_.release(sample);
          break;
        }
      }
      if (stopping_) break;
      if (settings_.one_pass) {
        emit(Pick{nullptr, picks, faults_, nullptr});
        break;
      }
      // Another pass needs the last one to have produced something, or it would loop forever.
      std::uint64_t total = 0;
      {
        std::lock_guard lock(counts_mutex_);
        for (const auto& [key, n] : counts_)
          if (key.first == pass_) total += n;
      }
      if (total == 0)
        throw Error("stream " + std::to_string(stream_) + " of rank " + std::to_string(plan_.options().rank) +
                        " found no usable sample in its " + std::to_string(sequence_->size()) + " shard(s) (" +
                        faults_.summary() + ")",
                    "data.shards", "check the shards with `rsclip shards --inspect`");
      ++pass_;
      log::debug("data: stream {} starts pass {} of epoch {}", stream_, pass_, epoch_);
    }
  } catch (...) {
    emit(Pick{nullptr, picks, faults_, std::current_exception()});
  }
  pool_.release(scratch_);
  scratch_ = nullptr;
  grouper_.reset();
  tar_.reset();
}

}  // namespace rsclip::data
