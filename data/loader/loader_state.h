// The loader's position, for exact resume. It is small (no sample bytes): after a batch,
// every stream is described by how many samples it has handed out this epoch (its pick
// count), how many accepted samples each of its finished shards held, and its fault
// counters; batches already being decoded are described by their streams' pick ranges.
//
// Why that is enough: a stream's shard order and shuffle generator are functions of
// (seed, epoch, rank, stream, pass) (pipeline.h), and webdataset's shuffle buffer decides
// only from its generator and how many items arrive when. So replay_stream() re-runs the
// stream's shuffle over sample *references* (pass, shard position, index in shard), using
// the recorded shard sizes, up to the pick count: that yields the shuffle buffer's contents
// in order, its generator state, where the reader stands, and which samples the in-flight
// batches hold. fetch_samples() then re-reads just those samples from their shards (image
// bytes of others are skipped), and the stream carries on exactly as it would have.
// Resuming needs the same shards (same bytes) and the same data settings; the state carries
// an identity of both and restore refuses a mismatch.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/loader/pipeline.h"
#include "data/loader/sample_pool.h"
#include "data/loader/stream_reader.h"
#include "data/shards/faults.h"

namespace rsclip::data {

struct StreamState {
  std::uint64_t picks = 0;  // samples handed to the collator this epoch
  bool exhausted = false;   // one-pass epochs: the stream has ended
  FaultCounters faults;     // shard/sample faults of this stream up to its last pick
  ShardCounts counts;       // accepted samples per finished shard (pass, position)
};

// A batch that was being decoded when the state was taken: rows 0..count-1 hold picks
// first_pick.. of `stream`.
struct PendingBatch {
  std::int64_t index = 0;
  int stream = 0;
  std::uint64_t first_pick = 0;
  std::uint64_t count = 0;
};

struct LoaderState {
  static constexpr int kVersion = 1;
  nlohmann::json identity;  // settings and shards the position is only valid for
  std::int64_t epoch = 0;
  std::int64_t next_batch = 0;  // batches of the epoch already delivered
  int cursor = 0;               // one-pass epochs: the stream the next batch starts from
  std::vector<StreamState> streams;
  std::vector<PendingBatch> pending;
  FaultCounters decode_faults;  // faults found by the workers, and the good-sample count

  FaultCounters faults() const;  // all counters at this position
  std::string to_json() const;
  // rsclip::Error for anything malformed (the bytes come from a checkpoint file).
  static LoaderState from_json(const std::string& text);
};

// Where a stream stands after `state.picks` picks, replayed from references alone.
struct StreamReplay {
  StreamStart start;                          // everything but the buffer's samples
  std::vector<SampleRef> buffer;              // the shuffle buffer, in order
  std::map<std::uint64_t, SampleRef> picked;  // refs of the requested pick indices
};

// rsclip::Error when the recorded counts cannot produce `state.picks` picks (a state that
// does not belong to these shards and settings).
StreamReplay replay_stream(const ShardPlan& plan, std::int64_t epoch, int stream, const StreamState& state,
                           bool one_pass, const std::set<std::uint64_t>& wanted_picks);

// Reads the samples `refs` name from the stream's shards, in shard order; rsclip::Error
// when a shard no longer yields them (changed or unreadable since the state was taken).
std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>, Sample*> fetch_samples(
    const ShardPlan& plan, std::int64_t epoch, int stream, const std::vector<SampleRef>& refs,
    const StreamSettings& settings, SamplePool& pool);

}  // namespace rsclip::data
