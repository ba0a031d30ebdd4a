#include "data/shards/faults.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace rsclip::data {

std::string_view fault_name(Fault f) {
  switch (f) {
    case Fault::unreadable_shard: return "unreadable_shard";
    case Fault::truncated_tar: return "truncated_tar";
    case Fault::corrupt_tar: return "corrupt_tar";
    case Fault::missing_image: return "missing_image";
    case Fault::missing_text: return "missing_text";
    case Fault::bad_utf8: return "bad_utf8";
    case Fault::empty_text: return "empty_text";
    case Fault::oversized_member: return "oversized_member";
    case Fault::undecodable_image: return "undecodable_image";
    case Fault::oversized_image: return "oversized_image";
    case Fault::count_: break;
  }
  return "unknown";
}

bool is_sample_fault(Fault f) { return static_cast<int>(f) >= static_cast<int>(Fault::missing_image); }

std::int64_t FaultCounters::bad_samples() const {
  std::int64_t n = 0;
  for (int i = 0; i < kFaultKinds; ++i)
    if (is_sample_fault(static_cast<Fault>(i))) n += counts[i];
  return n;
}

std::int64_t FaultCounters::shard_failures() const {
  std::int64_t n = 0;
  for (int i = 0; i < kFaultKinds; ++i)
    if (!is_sample_fault(static_cast<Fault>(i))) n += counts[i];
  return n;
}

double FaultCounters::bad_fraction() const {
  const auto bad = bad_samples();
  return good + bad == 0 ? 0.0 : static_cast<double>(bad) / static_cast<double>(good + bad);
}

double FaultCounters::bad_shard_fraction() const {
  return shards == 0 ? 0.0 : static_cast<double>(shard_failures()) / static_cast<double>(shards);
}

FaultCounters& FaultCounters::operator+=(const FaultCounters& o) {
  for (int i = 0; i < kFaultKinds; ++i) counts[i] += o.counts[i];
  good += o.good;
  shards += o.shards;
  return *this;
}

std::string FaultCounters::summary() const {
  const auto list = [&](bool sample_level) {
    std::string s;
    for (int i = 0; i < kFaultKinds; ++i) {
      const auto f = static_cast<Fault>(i);
      if (is_sample_fault(f) != sample_level || counts[i] == 0) continue;
      s += fmt::format("{}{} {}", s.empty() ? "" : ", ", fault_name(f), counts[i]);
    }
    return s.empty() ? s : " (" + s + ")";
  };
  return fmt::format("good {}, bad {}{}, shards failed {} of {}{}", good, bad_samples(), list(true), shard_failures(),
                     shards, list(false));
}

nlohmann::json FaultCounters::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  j["good"] = good;
  j["shards"] = shards;
  for (int i = 0; i < kFaultKinds; ++i) j[std::string(fault_name(static_cast<Fault>(i)))] = counts[i];
  return j;
}

FaultCounters FaultCounters::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("fault counters must be a JSON object", "loader state");
  FaultCounters c;
  c.good = j.value("good", std::int64_t{0});
  c.shards = j.value("shards", std::int64_t{0});
  for (int i = 0; i < kFaultKinds; ++i)
    c.counts[i] = j.value(std::string(fault_name(static_cast<Fault>(i))), std::int64_t{0});
  return c;
}

}  // namespace rsclip::data
