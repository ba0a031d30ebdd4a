#include "data/loader/loader.h"

#include <cstdlib>
#include <cstring>

#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <fmt/format.h>

#include "core/base/error.h"
#include "core/base/log.h"
#include "core/base/stop_signal.h"

namespace rsclip::data {
namespace {

constexpr int kPending = -1;
constexpr int kGood = -2;
constexpr int kEmpty = -3;   // a rejected row already counted, waiting for a replacement
constexpr int kFailed = -4;  // the processor threw (a bug): the loader stops
// max_bad_fraction is judged once this many samples were seen (and at the end of an epoch),
// so that one bad sample at the start does not stop a run.
constexpr std::int64_t kBadFractionMinSamples = 1000;
// max_bad_shards likewise, once this many shards were started (a dataset whose shards all
// fail stops sooner: stream_reader.cpp).
constexpr std::int64_t kBadShardsMinShards = 10;

std::string fnv1a_hex(const std::vector<std::string>& items) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const auto& s : items) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    h = (h ^ 0xffU) * 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

// ----- options ---------------------------------------------------------------------------

void LoaderOptions::validate() const {
  if (shards.empty() == sources.empty())
    throw Error(shards.empty() ? "no shards given" : "give either shards or sources, not both", "shards",
                "e.g. shards: /data/rs5m/pub11-train-{0000..0031}.tar");
  if (batch_size < 1) throw Error("must be at least 1", "batch_size");
  if (workers < 1 || workers > 1024) throw Error("must be between 1 and 1024", "workers");
  if (streams < 1 || streams > 1024) throw Error("must be between 1 and 1024", "streams");
  if (prefetch < 1 || prefetch > 64) throw Error("must be between 1 and 64", "prefetch");
  if (shuffle_buffer < 0) throw Error("must not be negative", "shuffle_buffer");
  if (shuffle_initial < 0) throw Error("must not be negative", "shuffle_initial");
  if (seed < 0) throw Error("must not be negative", "seed");
  if (samples_per_epoch < 0) throw Error("must not be negative", "samples_per_epoch");
  if (max_member_bytes < 1) throw Error("must be positive", "max_member_bytes");
  if (!(max_bad_fraction >= 0 && max_bad_fraction <= 1)) throw Error("must be between 0 and 1", "max_bad_fraction");
  if (!(max_bad_shards >= 0 && max_bad_shards <= 1)) throw Error("must be between 0 and 1", "max_bad_shards");
  FieldChoice::parse(image_fields, text_fields, json_fields);
}

ShardList LoaderOptions::shard_list() const {
  if (!sources.empty()) {
    std::vector<std::pair<std::string, double>> list;
    for (const auto& s : sources) list.emplace_back(s.shards, s.weight);
    return expand_sources(list);
  }
  return parse_shard_spec(shards);
}

// ----- batch memory ----------------------------------------------------------------------

// Pinned batches come from PyTorch's caching host allocator, which reuses a block only once
// the copies recorded on it have finished. Without CUDA, buffers are kept and reused here
// (a fresh 40 MB allocation per batch would be fresh pages, faulted in on every batch).
class Loader::Memory {
 public:
  Memory(std::int64_t batch, int size, int context)
      : image_shape_{batch, 3, size, size},
        token_shape_{batch, context},
        pinned_(at::detail::getCUDAHooks().deviceCount() > 0) {}

  std::pair<at::Tensor, at::Tensor> allocate() {
    if (pinned_) {
      return {at::empty(image_shape_, at::TensorOptions().dtype(at::kFloat).pinned_memory(true)),
              at::empty(token_shape_, at::TensorOptions().dtype(at::kLong).pinned_memory(true))};
    }
    return {take(images_, image_shape_, at::kFloat, sizeof(float)),
            take(tokens_, token_shape_, at::kLong, sizeof(std::int64_t))};
  }
  bool pinned() const { return pinned_; }

 private:
  struct Pool {
    std::mutex mutex;
    std::vector<void*> free;
    std::vector<void*> all;
    ~Pool() {
      for (void* p : all) std::free(p);
    }
  };

  static at::Tensor take(const std::shared_ptr<Pool>& pool, const std::vector<std::int64_t>& shape,
                         at::ScalarType dtype, std::size_t element) {
    std::size_t bytes = element;
    for (auto d : shape) bytes *= static_cast<std::size_t>(d);
    bytes = (bytes + 63) / 64 * 64;
    void* p = nullptr;
    {
      std::lock_guard lock(pool->mutex);
      if (!pool->free.empty()) {
        p = pool->free.back();
        pool->free.pop_back();
      }
    }
    if (!p) {
      p = std::aligned_alloc(64, bytes);
      TORCH_CHECK(p != nullptr, "out of memory allocating a batch of ", bytes, " bytes");
      std::lock_guard lock(pool->mutex);
      pool->all.push_back(p);
    }
    return at::from_blob(
        p, shape,
        [pool](void* q) {
          std::lock_guard lock(pool->mutex);
          pool->free.push_back(q);
        },
        at::TensorOptions().dtype(dtype));
  }

  std::vector<std::int64_t> image_shape_, token_shape_;
  bool pinned_;
  std::shared_ptr<Pool> images_ = std::make_shared<Pool>(), tokens_ = std::make_shared<Pool>();
};

// ----- jobs ------------------------------------------------------------------------------

struct Loader::Job {
  std::int64_t index = 0;
  int stream = 0;
  std::uint64_t first_pick = 0, window = 0;
  std::int64_t rows = 0;
  at::Tensor images, tokens;
  float* image_data = nullptr;
  std::int64_t* token_data = nullptr;
  std::vector<std::string> keys;
  std::vector<int> status;
  std::atomic<int> pending{0};
  std::exception_ptr error;  // written by a worker under done_mutex_
};

struct Loader::Ready {
  std::optional<Batch> batch;
  LoaderState state;
  std::exception_ptr error;
  bool end = false;
};

// ----- lifetime --------------------------------------------------------------------------

Loader::Loader(const LoaderOptions& options, ProcessorSpec processor, int rank, int world)
    : options_(options), processor_(std::move(processor)) {
  options_.validate();
  if (!processor_.make) throw Error("no sample processor given", "data loader");
  if (processor_.image_size < 1 || processor_.context_length < 1)
    throw Error("bad image size or context length", "data loader");
  PipelineOptions po;
  po.seed = static_cast<std::uint64_t>(options_.seed);
  po.rank = rank;
  po.world = world;
  po.streams = options_.streams;
  po.resampled = options_.resampled;
  po.shuffle_shards = options_.shuffle_shards;
  po.shuffle_buffer = static_cast<std::size_t>(options_.shuffle_buffer);
  po.shuffle_initial = static_cast<std::size_t>(options_.shuffle_initial);
  plan_ = std::make_unique<ShardPlan>(options_.shard_list(), po);
  batch_size_ = options_.batch_size;

  std::int64_t samples = options_.samples_per_epoch;
  if (samples == 0 && !options_.resampled) samples = dataset_size_hint(plan_->shards()).value_or(0);
  if (samples > 0) {
    const std::int64_t global = batch_size_ * world;
    batches_per_epoch_ = (samples + global - 1) / global;
  } else if (options_.resampled) {
    throw Error("resampled mode needs the epoch length", "data.samples_per_epoch",
                "set data.samples_per_epoch (all ranks together), as open_clip needs --train-num-samples");
  } else if (world > 1) {
    throw Error("with " + std::to_string(world) +
                    " ranks the epoch length must be known, or ranks would yield different numbers of batches "
                    "and wait on each other forever",
                "data.samples_per_epoch", "set data.samples_per_epoch, or put a sizes.json next to the shards");
  }
  stream_settings_.choice = FieldChoice::parse(options_.image_fields, options_.text_fields, options_.json_fields);
  stream_settings_.max_member_bytes = static_cast<std::uint64_t>(options_.max_member_bytes);
  stream_settings_.one_pass = batches_per_epoch_ < 0;
  stream_settings_.queue_capacity = static_cast<std::size_t>(std::max<std::int64_t>(batch_size_, 64));
  memory_ = std::make_unique<Memory>(batch_size_, processor_.image_size, processor_.context_length);
  tasks_ = std::make_unique<BoundedQueue<Task>>(static_cast<std::size_t>(batch_size_ * (options_.prefetch + 1)));
  identity_ = identity();
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  log::info("data: {} shards, rank {} of {}, {} stream(s), {} workers, batch {}, {}{}", plan_->urls().size(), rank,
            world, plan_->streams(), options_.workers, batch_size_,
            batches_per_epoch_ < 0 ? std::string("one pass per epoch")
                                   : std::to_string(batches_per_epoch_) + " batches per epoch",
            memory_->pinned() ? ", pinned memory" : "");
}

Loader::~Loader() {
  stop();
  tasks_->close();
  for (auto& w : workers_) w.join();
}

void Loader::stop() {
  stopping_ = true;
  for (auto& r : readers_)
    if (r) r->stop();
  if (ready_) ready_->close();
  {
    std::lock_guard lock(done_mutex_);
    done_cv_.notify_all();
  }
  if (collator_.joinable()) collator_.join();
  readers_.clear();
  ready_.reset();
  stopping_ = false;
}

nlohmann::json Loader::identity() const {
  if (!identity_.is_null()) return identity_;
  const auto& o = plan_->options();
  return {{"shards", plan_->urls().size()},
          {"shard_list_hash", fnv1a_hex(plan_->urls())},
          {"seed", o.seed},
          {"rank", o.rank},
          {"world", o.world},
          {"streams", plan_->streams()},
          {"batch_size", batch_size_},
          {"prefetch", options_.prefetch},
          {"shuffle_buffer", o.shuffle_buffer},
          {"shuffle_initial", o.shuffle_initial},
          {"shuffle_shards", o.shuffle_shards},
          {"resampled", o.resampled},
          {"batches_per_epoch", batches_per_epoch_},
          {"image_fields", options_.image_fields},
          {"text_fields", options_.text_fields},
          {"json_fields", options_.json_fields},
          {"max_member_bytes", options_.max_member_bytes},
          {"image_size", processor_.image_size},
          {"context_length", processor_.context_length}};
}

void Loader::start_epoch(std::int64_t epoch) {
  TORCH_CHECK(epoch >= 0, "negative epoch");
  stop();
  LoaderState s;
  s.identity = identity();
  s.epoch = epoch;
  s.streams.resize(static_cast<std::size_t>(plan_->streams()));
  epoch_ = epoch;
  streams_ = s.streams;
  exhausted_.assign(streams_.size(), false);
  cursor_ = 0;
  decode_faults_ = {};
  for (int i = 0; i < plan_->streams(); ++i)
    readers_.push_back(std::make_unique<StreamReader>(*plan_, epoch, i, stream_settings_, pool_));
  launch(s, {});
}

void Loader::restore(const LoaderState& state) {
  stop();
  const auto mine = identity();
  for (const auto& [key, value] : mine.items()) {
    if (!state.identity.contains(key) || state.identity.at(key) != value)
      throw Error("the checkpoint's data position was taken with " + key + " = " +
                      (state.identity.contains(key) ? state.identity.at(key).dump() : std::string("(none)")) +
                      ", now it is " + value.dump(),
                  "data", "resume with the shards and data settings of the checkpoint, or start a fresh epoch");
  }
  const auto n = static_cast<std::size_t>(plan_->streams());
  if (state.streams.size() != n || state.cursor >= plan_->streams())
    throw Error("the checkpoint's data position has a different number of streams", "data");
  for (const auto& p : state.pending)
    if (p.count > static_cast<std::uint64_t>(batch_size_))
      throw Error("a pending batch is larger than batch_size", "data");

  epoch_ = state.epoch;
  streams_ = state.streams;
  exhausted_.clear();
  for (const auto& s : streams_) exhausted_.push_back(s.exhausted);
  cursor_ = state.cursor;
  decode_faults_ = state.decode_faults;

  // Replay each stream from references, then read back only the samples it holds.
  std::vector<StreamReplay> replays;
  std::vector<std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>, Sample*>> fetched(n);
  for (std::size_t s = 0; s < n; ++s) {
    std::set<std::uint64_t> wanted;
    for (const auto& p : state.pending)
      if (p.stream == static_cast<int>(s))
        for (std::uint64_t k = 0; k < p.count; ++k) wanted.insert(p.first_pick + k);
    replays.push_back(
        replay_stream(*plan_, epoch_, static_cast<int>(s), state.streams[s], stream_settings_.one_pass, wanted));
    std::vector<SampleRef> refs = replays.back().buffer;
    for (const auto& [pick, ref] : replays.back().picked) refs.push_back(ref);
    fetched[s] = fetch_samples(*plan_, epoch_, static_cast<int>(s), refs, stream_settings_, pool_);
  }
  const auto sample_of = [&](std::size_t s, const SampleRef& r) {
    return fetched[s].at({r.pass, r.position, r.index});
  };
  for (std::size_t s = 0; s < n; ++s) {
    StreamStart start = std::move(replays[s].start);
    for (const auto& r : replays[s].buffer) start.buffer.push_back(sample_of(s, r));
    if (state.streams[s].exhausted) {
      for (Sample* x : start.buffer) pool_.release(x);
      readers_.push_back(nullptr);
    } else {
      readers_.push_back(std::make_unique<StreamReader>(*plan_, epoch_, static_cast<int>(s), stream_settings_, pool_,
                                                        std::move(start)));
    }
  }
  // The batches that were being decoded, rebuilt from their picks.
  std::vector<std::unique_ptr<Job>> pending;
  for (const auto& p : state.pending) {
    auto job = new_job(p.index, p.stream);
    job->first_pick = p.first_pick;
    job->window = p.count;
    job->rows = static_cast<std::int64_t>(p.count);
    for (std::uint64_t k = 0; k < p.count; ++k) {
      const auto s = static_cast<std::size_t>(p.stream);
      Pick pick;
      pick.sample = sample_of(s, replays[s].picked.at(p.first_pick + k));
      pick.index = p.first_pick + k;
      dispatch(*job, static_cast<int>(k), pick);
    }
    pending.push_back(std::move(job));
  }
  launch(state, std::move(pending));
}

void Loader::launch(const LoaderState& state, std::vector<std::unique_ptr<Job>> pending) {
  last_state_ = state;
  started_ = true;
  epoch_done_ = false;
  failure_ = nullptr;
  delivered_ = state.next_batch;
  ready_ = std::make_unique<BoundedQueue<Ready>>(static_cast<std::size_t>(options_.prefetch));
  std::deque<std::unique_ptr<Job>> in_flight;
  for (auto& j : pending) in_flight.push_back(std::move(j));
  const std::int64_t next_start = in_flight.empty() ? state.next_batch : in_flight.back()->index + 1;
  collator_ =
      std::thread([this, f = std::move(in_flight), next_start]() mutable { collate(std::move(f), next_start); });
}

// ----- the collator ----------------------------------------------------------------------

std::unique_ptr<Loader::Job> Loader::new_job(std::int64_t index, int stream) {
  auto job = std::make_unique<Job>();
  job->index = index;
  job->stream = stream;
  std::tie(job->images, job->tokens) = memory_->allocate();
  job->image_data = job->images.data_ptr<float>();
  job->token_data = job->tokens.data_ptr<std::int64_t>();
  job->keys.resize(static_cast<std::size_t>(batch_size_));
  job->status.assign(static_cast<std::size_t>(batch_size_), kEmpty);
  return job;
}

void Loader::dispatch(Job& job, int row, const Pick& pick) {
  job.status[static_cast<std::size_t>(row)] = kPending;
  job.pending.fetch_add(1);
  const Task task{&job, row, pick.sample, plan_->sample_seed(epoch_, job.stream, pick.index)};
  if (!tasks_->push(task)) {
    pool_.release(pick.sample);
    job.pending.fetch_sub(1);
  }
}

// Takes the next pick of a stream into the collator's view; false when the stream has ended
// (or the loader is stopping).
bool Loader::pull(int stream, Pick& pick) {
  const auto s = static_cast<std::size_t>(stream);
  if (exhausted_[s] || !readers_[s]) return false;
  if (!readers_[s]->pop(pick)) return false;
  if (pick.error) std::rethrow_exception(pick.error);
  streams_[s].faults = pick.faults;
  if (!pick.sample) {
    exhausted_[s] = true;
    return false;
  }
  streams_[s].picks = pick.index + 1;
  return true;
}

bool Loader::start_batch(std::int64_t index, std::deque<std::unique_ptr<Job>>& in_flight) {
  const int n = plan_->streams();
  for (int attempt = 0; attempt < n && !stopping_; ++attempt) {
    int stream;
    if (batches_per_epoch_ >= 0) {
      stream = static_cast<int>(index % n);
    } else {
      // One-pass epochs: round robin over the streams that have not ended.
      stream = -1;
      for (int k = 0; k < n; ++k) {
        const int s = (cursor_ + k) % n;
        if (!exhausted_[static_cast<std::size_t>(s)]) {
          stream = s;
          break;
        }
      }
      if (stream < 0) return false;
      cursor_ = (stream + 1) % n;
    }
    auto job = new_job(index, stream);
    job->first_pick = streams_[static_cast<std::size_t>(stream)].picks;
    Pick pick;
    while (job->rows < batch_size_ && pull(stream, pick)) dispatch(*job, static_cast<int>(job->rows++), pick);
    job->window = static_cast<std::uint64_t>(job->rows);
    if (job->rows > 0) {
      in_flight.push_back(std::move(job));  // even when stopping: its tasks must finish first
      return !stopping_;
    }
    if (stopping_) return false;
    if (batches_per_epoch_ >= 0) return false;
  }
  return false;
}

void Loader::wait(Job& job, bool interruptible) {
  std::unique_lock lock(done_mutex_);
  done_cv_.wait(lock, [&] { return job.pending.load() == 0 || (interruptible && stopping_); });
}

// Waits for a batch's rows; rows the workers rejected are counted and refilled from the
// same stream, in row order, until the batch is full or the stream has ended.
void Loader::resolve(Job& job) {
  while (true) {
    wait(job, true);
    if (stopping_) return;
    if (job.error) std::rethrow_exception(job.error);
    std::vector<int> holes;
    for (std::int64_t r = 0; r < job.rows; ++r) {
      int& st = job.status[static_cast<std::size_t>(r)];
      if (st == kGood) continue;
      if (st >= 0) {
        ++decode_faults_[static_cast<Fault>(st)];
        st = kEmpty;
      }
      holes.push_back(static_cast<int>(r));
    }
    if (holes.empty()) break;
    std::size_t filled = 0;
    Pick pick;
    while (filled < holes.size() && pull(job.stream, pick)) dispatch(job, holes[filled++], pick);
    if (stopping_) return;
    if (filled == 0) {
      // The stream has ended (one-pass epochs): close the gaps, keeping row order.
      std::int64_t w = 0;
      const std::int64_t image_elems = 3LL * processor_.image_size * processor_.image_size;
      for (std::int64_t r = 0; r < job.rows; ++r) {
        if (job.status[static_cast<std::size_t>(r)] != kGood) continue;
        if (w != r) {
          std::memcpy(job.image_data + w * image_elems, job.image_data + r * image_elems, image_elems * sizeof(float));
          std::memcpy(job.token_data + w * processor_.context_length, job.token_data + r * processor_.context_length,
                      processor_.context_length * sizeof(std::int64_t));
          job.keys[static_cast<std::size_t>(w)].swap(job.keys[static_cast<std::size_t>(r)]);
          job.status[static_cast<std::size_t>(w)] = kGood;
        }
        ++w;
      }
      job.rows = w;
      break;
    }
  }
  decode_faults_.good += job.rows;
}

void Loader::check_bad_fraction(bool final) const {
  FaultCounters total = decode_faults_;
  for (const auto& s : streams_) total += s.faults;
  if ((final || total.shards >= kBadShardsMinShards) && total.bad_shard_fraction() > options_.max_bad_shards) {
    throw Error(fmt::format("{} of {} shards failed, more than max_bad_shards {:.1f}% ({})", total.shard_failures(),
                            total.shards, 100 * options_.max_bad_shards, total.summary()),
                "data.shards",
                "the log names each failed shard; check them with `rsclip shards --inspect`, or raise "
                "data.max_bad_shards");
  }
  const std::int64_t seen = total.good + total.bad_samples();
  if (seen == 0 || (!final && seen < kBadFractionMinSamples)) return;
  if (total.bad_fraction() > options_.max_bad_fraction)
    throw Error(fmt::format("{:.1f}% of the samples are bad, more than max_bad_fraction {:.1f}% ({})",
                            100 * total.bad_fraction(), 100 * options_.max_bad_fraction, total.summary()),
                "data.shards", "check the shards with `rsclip shards --inspect`, or raise data.max_bad_fraction");
}

Batch Loader::finish_batch(Job& job) const {
  Batch b;
  b.epoch = epoch_;
  b.index = job.index;
  b.images = job.rows == batch_size_ ? job.images : job.images.narrow(0, 0, job.rows);
  b.tokens = job.rows == batch_size_ ? job.tokens : job.tokens.narrow(0, 0, job.rows);
  job.keys.resize(static_cast<std::size_t>(job.rows));
  b.keys = std::move(job.keys);
  return b;
}

LoaderState Loader::snapshot(std::int64_t next_batch, const std::deque<std::unique_ptr<Job>>& in_flight,
                             std::size_t skip_front) const {
  LoaderState st;
  st.identity = identity_;
  st.epoch = epoch_;
  st.next_batch = next_batch;
  st.cursor = cursor_;
  st.decode_faults = decode_faults_;
  st.streams = streams_;
  for (std::size_t s = 0; s < streams_.size(); ++s) {
    st.streams[s].exhausted = exhausted_[s];
    if (readers_[s]) st.streams[s].counts = readers_[s]->counts();
  }
  for (std::size_t i = skip_front; i < in_flight.size(); ++i) {
    const Job& j = *in_flight[i];
    st.pending.push_back({j.index, j.stream, j.first_pick, j.window});
  }
  return st;
}

// The collator's fixed order: start batches up to `prefetch` ahead, then resolve the oldest
// (its refills happen here, before the next batch starts), hand it over, repeat.
void Loader::collate(std::deque<std::unique_ptr<Job>> in_flight, std::int64_t next_start) {
  const std::int64_t ahead = options_.prefetch;
  std::int64_t next_resolve = in_flight.empty() ? next_start : in_flight.front()->index;
  try {
    while (!stopping_) {
      while (next_start < next_resolve + ahead && (batches_per_epoch_ < 0 || next_start < batches_per_epoch_) &&
             start_batch(next_start, in_flight))
        ++next_start;
      if (stopping_ || in_flight.empty()) break;
      Job& job = *in_flight.front();
      resolve(job);
      if (stopping_) break;
      ++next_resolve;
      check_bad_fraction(false);
      Ready ready;
      ready.batch = finish_batch(job);
      ready.state = snapshot(next_resolve, in_flight, 1);
      in_flight.pop_front();
      if (!ready_->push(std::move(ready))) break;
    }
    if (!stopping_) {
      check_bad_fraction(true);
      if (next_resolve == 0) {
        FaultCounters total = decode_faults_;
        for (const auto& s : streams_) total += s.faults;
        throw Error("epoch " + std::to_string(epoch_) + " has no usable sample (" + total.summary() + ")",
                    "data.shards", "check the shards with `rsclip shards --inspect`");
      }
      Ready end;
      end.end = true;
      end.state = snapshot(next_resolve, in_flight, 0);
      log::info("data: epoch {} done after {} batches: {}", epoch_, next_resolve, end.state.faults().summary());
      ready_->push(std::move(end));
    }
  } catch (...) {
    Ready failed;
    failed.error = std::current_exception();
    ready_->push(std::move(failed));
  }
  // Nothing may outlive the jobs: take back queued tasks, wait for those being processed.
  tasks_->drain([&](Task& t) {
    pool_.release(t.sample);
    t.job->pending.fetch_sub(1);
  });
  for (auto& job : in_flight) wait(*job, false);
}

// ----- workers and the consumer ----------------------------------------------------------

void Loader::worker_loop() {
  std::unique_ptr<SampleProcessor> processor;
  std::exception_ptr make_error;  // reported through the batches, like any processor failure
  try {
    processor = processor_.make();
  } catch (...) {
    make_error = std::current_exception();
  }
  const std::int64_t image_elems = 3LL * processor_.image_size * processor_.image_size;
  Task t;
  while (tasks_->pop(t)) {
    Job& job = *t.job;
    const auto row = static_cast<std::size_t>(t.row);
    try {
      if (!processor) {
        if (make_error) std::rethrow_exception(make_error);
        throw Error("the sample processor factory returned nothing", "data loader");
      }
      const auto fault = processor->process(*t.sample, t.seed, job.image_data + t.row * image_elems,
                                            job.token_data + t.row * processor_.context_length);
      if (fault) {
        job.status[row] = static_cast<int>(*fault);
      } else {
        job.keys[row].assign(t.sample->key);
        job.status[row] = kGood;
      }
    } catch (...) {
      std::lock_guard lock(done_mutex_);
      job.error = std::current_exception();
      job.status[row] = kFailed;
    }
    pool_.release(t.sample);
    if (job.pending.fetch_sub(1) == 1) {
      std::lock_guard lock(done_mutex_);
      done_cv_.notify_all();
    }
  }
}

std::optional<Batch> Loader::next() {
  if (!started_) throw Error("the loader has no epoch", "data loader", "call start_epoch() or restore() first");
  if (failure_) std::rethrow_exception(failure_);
  if (epoch_done_) return std::nullopt;
  Ready r;
  // Waiting (at start-up a shuffle buffer fills first) honours a stop signal within 0.1 s.
  using Pop = BoundedQueue<Ready>::Pop;
  for (Pop got; (got = ready_->pop_for(r, std::chrono::milliseconds(100))) != Pop::item;) {
    if (got == Pop::closed) return std::nullopt;
    stop::throw_if_requested();
  }
  if (r.error) {
    failure_ = r.error;
    std::rethrow_exception(failure_);
  }
  last_state_ = std::move(r.state);
  if (r.end) {
    epoch_done_ = true;
    return std::nullopt;
  }
  return std::move(r.batch);
}

LoaderState Loader::state() const { return last_state_; }

LoaderStats Loader::stats() const {
  LoaderStats s;
  s.ready_batches = ready_ ? ready_->size() : 0;
  for (const auto& r : readers_)
    if (r) s.queued_samples += r->queued();
  s.samples_allocated = pool_.allocated();
  return s;
}

}  // namespace rsclip::data
