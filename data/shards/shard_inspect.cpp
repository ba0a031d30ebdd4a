#include "data/shards/shard_inspect.h"

#include "core/base/error.h"
#include "core/base/log.h"

namespace rsclip::data {

ShardInspection& ShardInspection::operator+=(const ShardInspection& o) {
  shards += o.shards;
  samples += o.samples;
  bytes += o.bytes;
  for (const auto& [name, f] : o.fields) {
    fields[name].count += f.count;
    fields[name].bytes += f.bytes;
  }
  faults += o.faults;
  return *this;
}

ShardInspection inspect_shard(const std::string& url, const FieldChoice& choice, std::uint64_t max_member_bytes,
                              const SampleCheck& check) {
  ShardInspection out;
  out.shards = 1;
  std::unique_ptr<TarReader> reader;
  try {
    reader = std::make_unique<TarReader>(ShardInput::open(url));
  } catch (const Error& e) {
    log::warn("{}", e.what());
    ++out.faults[Fault::unreadable_shard];
    return out;
  }
  // Only the bytes the loader would use are read (and checked); others are counted by size.
  SampleGrouper grouper(*reader, max_member_bytes, [&](std::string_view ext) { return choice.wanted(ext); });
  TarSample grouped;
  Sample sample;
  try {
    while (grouper.next(grouped)) {
      ++out.samples;
      for (std::size_t i = 0; i < grouped.count; ++i) {
        auto& f = out.fields[grouped.fields[i].extension];
        ++f.count;
        f.bytes += grouped.fields[i].size;
        out.bytes += grouped.fields[i].size;
      }
      auto fault = accept_sample(grouped, choice, sample);
      if (!fault && check) fault = check(sample);
      if (fault)
        ++out.faults[*fault];
      else
        ++out.faults.good;
    }
    const std::string failure = reader->finish();
    if (!failure.empty()) {
      log::warn("{}: {}", reader->label(), failure);
      if (reader->members() == 0) ++out.faults[Fault::unreadable_shard];
    }
  } catch (const TarError& e) {
    log::warn("{}", e.what());
    ++out.faults[e.kind() == TarError::Kind::truncated ? Fault::truncated_tar : Fault::corrupt_tar];
  }
  return out;
}

}  // namespace rsclip::data
