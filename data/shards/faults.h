// Bad-data accounting. Every sample or shard the loader drops is counted under one kind;
// the counters travel with the loader state (so they stay exact across a resume), appear
// in the epoch summary log line and are exposed for metrics.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace rsclip::data {

enum class Fault : int {
  // shard level: counted once per shard
  unreadable_shard,  // cannot be opened, or its command failed before producing anything
  truncated_tar,     // ends early (cut-off download, zero-byte file); samples before it are kept
  corrupt_tar,       // bad header, not a tar, broken compression; samples before it are kept
  // sample level: the sample is skipped
  missing_image,      // no member with one of the image extensions
  missing_text,       // no member with one of the text extensions
  bad_utf8,           // caption is not valid UTF-8
  empty_text,         // caption is empty or only whitespace
  oversized_member,   // the image or caption member exceeds data.max_member_bytes
  undecodable_image,  // the image bytes do not decode
  oversized_image,    // the decoded image would exceed the pixel limit
  count_
};

inline constexpr int kFaultKinds = static_cast<int>(Fault::count_);

std::string_view fault_name(Fault f);
bool is_sample_fault(Fault f);

struct FaultCounters {
  std::array<std::int64_t, kFaultKinds> counts{};
  std::int64_t good = 0;    // samples that made it into a batch
  std::int64_t shards = 0;  // shards started (opened or tried), for the bad-shard fraction

  std::int64_t& operator[](Fault f) { return counts[static_cast<int>(f)]; }
  std::int64_t operator[](Fault f) const { return counts[static_cast<int>(f)]; }
  std::int64_t bad_samples() const;
  std::int64_t shard_failures() const;
  // bad / (good + bad) over samples; 0 when nothing was seen.
  double bad_fraction() const;
  // shard_failures / shards; 0 when no shard was started.
  double bad_shard_fraction() const;
  FaultCounters& operator+=(const FaultCounters& o);

  // "good 1200, bad 3 (undecodable_image 2, empty_text 1), shards failed 1 of 12 (truncated_tar 1)"
  std::string summary() const;
  nlohmann::json to_json() const;
  static FaultCounters from_json(const nlohmann::json& j);
};

}  // namespace rsclip::data
