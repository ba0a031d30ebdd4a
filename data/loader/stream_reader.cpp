#include "data/loader/stream_reader.h"

#include <signal.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/base/error.h"
#include "core/base/log.h"

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
  {
    // A reader blocked on a pipe command that is slow to produce (or never will) wakes up
    // when its command ends.
    std::lock_guard lock(child_mutex_);
    if (child_ > 0) ::kill(-child_, SIGTERM);
  }
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

void StreamReader::set_child(pid_t child) {
  std::lock_guard lock(child_mutex_);
  child_ = child;
}

std::string StreamReader::finish_shard() {
  set_child(-1);  // before the command is reaped: stop() never signals a reaped id
  return tar_->finish();
}

// A shard is counted when it is done with (read, failed or skipped), once: a restored stream
// reopens the shard it was in, which was not counted yet.
void StreamReader::close_shard() {
  set_child(-1);
  ++faults_.shards;
  stop_if_all_failed();
  record_count(accepted_);
  empty_run_ = accepted_ == 0 ? empty_run_ + 1 : 0;
  grouper_.reset();
  tar_.reset();
  ++position_;
  skip_ = 0;
  accepted_ = 0;
}

// Counts a shard-level fault (the shard is then closed). When every shard this stream read
// failed and none gave a sample, after a few, the data is unusable: stop now, naming them,
// rather than after trying every shard of the epoch.
void StreamReader::shard_failed(Fault kind, const std::string& label) {
  ++faults_[kind];
  if (failed_shards_.size() < kNamedFailures) failed_shards_.push_back(label);
}

void StreamReader::stop_if_all_failed() const {
  if (accepted_total_ == 0 && faults_.shards >= kEarlyStopShards && faults_.shard_failures() == faults_.shards) {
    std::string names;
    for (const auto& n : failed_shards_) names += (names.empty() ? "" : ", ") + n;
    throw Error(fmt::format("the first {} shards of stream {} of rank {} all failed ({}): {}", faults_.shards, stream_,
                            plan_.options().rank, faults_.summary(), names),
                "data.shards", "check the paths and the files with `rsclip shards --inspect SPEC`");
  }
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
        auto input = ShardInput::open(url);
        set_child(input->child());
        tar_ = std::make_unique<TarReader>(std::move(input));
      } catch (const Error& e) {
        log::warn("data: skipping shard: {}", e.what());
        shard_failed(Fault::unreadable_shard, url);
        close_shard();
        continue;
      }
      const bool skipping = skip_ > 0;
      grouper_ =
          std::make_unique<SampleGrouper>(*tar_, settings_.max_member_bytes, [this, skipping](std::string_view ext) {
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
        const std::string failure = finish_shard();
        if (!failure.empty()) {
          log::warn("data: shard {}: {}", tar_->label(), failure);
          if (tar_->members() == 0) shard_failed(Fault::unreadable_shard, tar_->label());
        }
        close_shard();
        continue;
      }
    } catch (const TarError& e) {
      const std::string failure = finish_shard();
      const bool nothing = tar_->members() == 0 && !failure.empty();
      log::warn("data: shard {}: {}{}", tar_->label(), e.message(), failure.empty() ? "" : " (" + failure + ")");
      shard_failed(nothing                                 ? Fault::unreadable_shard
                   : e.kind() == TarError::Kind::truncated ? Fault::truncated_tar
                                                           : Fault::corrupt_tar,
                   tar_->label());
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
    ++accepted_total_;
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
