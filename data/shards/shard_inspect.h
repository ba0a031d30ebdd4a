// Statistics of shards (`rsclip shards --inspect SPEC`): samples, fields with their counts
// and bytes, and bad samples by kind, judged as the loader would (webdataset.h, faults.h).
// `check` may add the processing checks (e.g. decoding every image) to the reading ones.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "data/shards/faults.h"
#include "data/shards/webdataset.h"

namespace rsclip::data {

struct FieldStats {
  std::int64_t count = 0;
  std::uint64_t bytes = 0;
};

struct ShardInspection {
  std::int64_t shards = 0;
  std::int64_t samples = 0;  // grouped samples
  std::uint64_t bytes = 0;   // member bytes
  std::map<std::string, FieldStats> fields;
  FaultCounters faults;  // good = accepted (and passing `check`)

  ShardInspection& operator+=(const ShardInspection& o);
};

using SampleCheck = std::function<std::optional<Fault>(const Sample&)>;

// Never throws for bad data: an unreadable or broken shard is counted (and logged).
ShardInspection inspect_shard(const std::string& url, const FieldChoice& choice, std::uint64_t max_member_bytes,
                              const SampleCheck& check = {});

}  // namespace rsclip::data
