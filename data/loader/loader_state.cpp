#include "data/loader/loader_state.h"

#include <algorithm>

#include "core/base/error.h"
#include "core/base/log.h"

namespace rsclip::data {
namespace {

using nlohmann::json;
using RefKey = std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>;

[[noreturn]] void bad_state(const std::string& what) {
  throw Error("invalid loader state: " + what, "checkpoint data state",
              "the checkpoint is damaged, or was written by another rsclip version");
}

template <class T>
T field(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) bad_state(std::string("missing '") + key + "'");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    bad_state(std::string("'") + key + "' has the wrong type");
  }
}

json counts_to_json(const ShardCounts& counts) {
  json out = json::array();
  for (const auto& [key, n] : counts) out.push_back({key.first, key.second, n});
  return out;
}

ShardCounts counts_from_json(const json& j) {
  if (!j.is_array()) bad_state("'counts' is not a list");
  ShardCounts out;
  for (const auto& e : j) {
    if (!e.is_array() || e.size() != 3) bad_state("a shard count is not [pass, position, count]");
    try {
      out[{e[0].get<std::uint32_t>(), e[1].get<std::uint32_t>()}] = e[2].get<std::uint64_t>();
    } catch (const json::exception&) {
      bad_state("a shard count is not three non-negative integers");
    }
  }
  return out;
}

}  // namespace

FaultCounters LoaderState::faults() const {
  FaultCounters total = decode_faults;
  for (const auto& s : streams) total += s.faults;
  return total;
}

std::string LoaderState::to_json() const {
  json j;
  j["version"] = kVersion;
  j["identity"] = identity;
  j["epoch"] = epoch;
  j["next_batch"] = next_batch;
  j["cursor"] = cursor;
  j["decode_faults"] = decode_faults.to_json();
  json streams_json = json::array();
  for (const auto& s : streams)
    streams_json.push_back({{"picks", s.picks},
                            {"exhausted", s.exhausted},
                            {"faults", s.faults.to_json()},
                            {"counts", counts_to_json(s.counts)}});
  j["streams"] = streams_json;
  json pending_json = json::array();
  for (const auto& p : pending)
    pending_json.push_back(
        {{"index", p.index}, {"stream", p.stream}, {"first_pick", p.first_pick}, {"count", p.count}});
  j["pending"] = pending_json;
  return j.dump();
}

LoaderState LoaderState::from_json(const std::string& text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) bad_state("not a JSON object");
  if (field<int>(j, "version") != kVersion)
    bad_state("version " + std::to_string(field<int>(j, "version")) + ", expected " + std::to_string(kVersion));
  LoaderState s;
  s.identity = j.contains("identity") ? j.at("identity") : json();
  s.epoch = field<std::int64_t>(j, "epoch");
  s.next_batch = field<std::int64_t>(j, "next_batch");
  s.cursor = field<int>(j, "cursor");
  if (s.epoch < 0 || s.next_batch < 0 || s.cursor < 0) bad_state("negative position");
  s.decode_faults = FaultCounters::from_json(field<json>(j, "decode_faults"));
  for (const auto& e : field<json>(j, "streams")) {
    StreamState st;
    st.picks = field<std::uint64_t>(e, "picks");
    st.exhausted = field<bool>(e, "exhausted");
    st.faults = FaultCounters::from_json(field<json>(e, "faults"));
    st.counts = counts_from_json(field<json>(e, "counts"));
    s.streams.push_back(std::move(st));
  }
  for (const auto& e : field<json>(j, "pending")) {
    PendingBatch p{field<std::int64_t>(e, "index"), field<int>(e, "stream"), field<std::uint64_t>(e, "first_pick"),
                   field<std::uint64_t>(e, "count")};
    if (p.stream < 0 || static_cast<std::size_t>(p.stream) >= s.streams.size() ||
        p.first_pick + p.count > s.streams[p.stream].picks || p.count > (std::uint64_t{1} << 24))
      bad_state("a pending batch lies outside its stream");
    s.pending.push_back(p);
  }
  return s;
}

StreamReplay replay_stream(const ShardPlan& plan, std::int64_t epoch, int stream, const StreamState& state,
                           bool one_pass, const std::set<std::uint64_t>& wanted_picks) {
  const auto& o = plan.options();
  const std::uint64_t empty_limit = std::max<std::uint64_t>(100, 3 * plan.urls().size());
  StreamReplay out;
  std::uint64_t picks = 0;
  for (std::uint32_t pass = 0;; ++pass) {
    auto seq = plan.sequence(epoch, stream, pass);
    ShuffleBuffer<SampleRef> buffer(o.shuffle_buffer, o.shuffle_initial, plan.shuffle_seed(epoch, stream, pass));
    std::uint32_t position = 0;
    std::uint64_t index = 0, empty_run = 0;
    // The reader's input as references: a finished shard yields its recorded count; the
    // shard being read when the state was taken has no count yet and yields as many as asked.
    auto source = [&](SampleRef& ref) {
      while (seq.at(position)) {
        const auto it = state.counts.find({pass, position});
        if (it != state.counts.end() && index >= it->second) {
          empty_run = it->second == 0 ? empty_run + 1 : 0;
          if (empty_run > empty_limit) bad_state("too many empty shards in a row");
          ++position;
          index = 0;
          continue;
        }
        ref = {pass, position, index++};
        return true;
      }
      return false;
    };
    SampleRef ref;
    bool ended = false;
    while (picks < state.picks) {
      if (!buffer.next(source, ref)) {
        ended = true;
        break;
      }
      if (wanted_picks.count(picks)) out.picked[picks] = ref;
      ++picks;
    }
    if (!ended) {
      StreamStart& s = out.start;
      s.pass = pass;
      s.position = position;
      s.skip = index;
      s.restored_buffer = true;
      s.rng = buffer.rng();
      s.input_done = buffer.input_done();
      s.picks = picks;
      s.faults = state.faults;
      s.counts = state.counts;
      out.buffer = buffer.items();
      return out;
    }
    if (one_pass || !seq.finite())
      bad_state("stream " + std::to_string(stream) + " cannot reach pick " + std::to_string(state.picks));
    if (pass > 1'000'000) bad_state("no progress over passes");
  }
}

std::map<RefKey, Sample*> fetch_samples(const ShardPlan& plan, std::int64_t epoch, int stream,
                                        const std::vector<SampleRef>& refs, const StreamSettings& settings,
                                        SamplePool& pool) {
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::set<std::uint64_t>> by_shard;
  for (const auto& r : refs) by_shard[{r.pass, r.position}].insert(r.index);
  std::map<std::uint32_t, ShardSequence> sequences;
  std::map<RefKey, Sample*> out;
  for (const auto& entry : by_shard) {
    const auto [pass, position] = entry.first;
    const std::set<std::uint64_t>& needed = entry.second;  // a plain reference: lambdas below capture it
    auto seq_it = sequences.find(pass);
    if (seq_it == sequences.end()) seq_it = sequences.emplace(pass, plan.sequence(epoch, stream, pass)).first;
    const auto index = seq_it->second.at(position);
    if (!index) bad_state("a sample lies past the end of its pass");
    const std::string& url = plan.urls()[*index];
    const auto fail = [&](const std::string& why) {
      throw Error("cannot resume exactly: shard " + shard_label(url) + " " + why, "data.shards",
                  "resuming needs the shards the checkpoint was trained on, unchanged");
    };
    std::uint64_t accepted = 0;
    const std::uint64_t last = *needed.rbegin();
    try {
      TarReader reader(ShardInput::open(url));
      SampleGrouper grouper(reader, settings.max_member_bytes, [&](std::string_view ext) {
        if (!settings.choice.wanted(ext)) return false;
        // The member may belong to the sample being assembled or, read ahead, to the next.
        if (needed.count(accepted) || needed.count(accepted + 1)) return true;
        const auto& text = settings.choice.text;
        return std::find(text.begin(), text.end(), ext) != text.end();
      });
      TarSample grouped;
      Sample* scratch = pool.acquire();
      while (accepted <= last && grouper.next(grouped)) {
        if (accept_sample(grouped, settings.choice, *scratch)) continue;
        if (needed.count(accepted)) {
          scratch->ref = {pass, position, accepted};
          out[{pass, position, accepted}] = scratch;
          scratch = pool.acquire();
        }
        ++accepted;
      }
      pool.release(scratch);
    } catch (const TarError& e) {
      if (accepted <= last) fail("breaks off before sample " + std::to_string(last) + ": " + e.message());
    } catch (const Error& e) {
      fail(std::string("cannot be read: ") + e.what());
    }
    if (accepted <= last)
      fail("has only " + std::to_string(accepted) + " usable samples, " + std::to_string(last + 1) + " expected");
  }
  return out;
}

}  // namespace rsclip::data
