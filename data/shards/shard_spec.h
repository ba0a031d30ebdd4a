// Shard specifications: which tar shards a run reads, and with what weight.
//
//   SPEC    := SOURCE ( "::" SOURCE )*          several sources ("::" as in webdataset)
//   SOURCE  := PATTERN [ "@" WEIGHT ]            WEIGHT: a decimal number > 0 (default 1)
//   PATTERN := bash-style brace pattern, expanded as Python's `braceexpand` 0.1.7 does:
//                rs3-train-{0000..0031}.tar   integer range; a leading zero on either end
//                                             pads every number to the wider width
//                {a..e}  {1..9..2}  {4..1}    character ranges, steps, descending ranges
//                x{a,b{1,2}}y                 lists, nested
//                \{  \,  \}  \\               literal characters
//
// Each expansion of a pattern is one shard URL:
//   pipe:CMD            the standard output of `/bin/sh -c CMD` (cloud CLIs, curl, ...)
//   http://…, https://… streamed through `curl -f -s -L` (as webdataset's gopen does)
//   file:PATH, PATH     a local file; a PATH with glob characters (* ? [) expands to the
//                       sorted list of matching files (none matching is an error)
//
// In a YAML config the same can be written as a list (data.sources), one entry per source:
//   sources: [{shards: "/d/pub11-train-{0000..0031}.tar", weight: 0.7},
//             {shards: "/d/rs3-train-{0000..0031}.tar",   weight: 0.3}]
//
// A source's weight is the probability that a shard draw picks that source (then a
// uniform shard of it), so with shards of similar size it is the source's share of the
// samples. Weights other than all-equal need resampled mode (as open_clip's
// --train-data-upsampling-factors does). Without weights, sources are concatenated.
// A trailing "@number" is always read as a weight: a path that really ends in "@3" is
// written "…@3@1".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rsclip::data {

struct ShardSource {
  std::string pattern;  // as written (before expansion)
  double weight = 1.0;
  std::vector<std::string> urls;
};

struct ShardList {
  std::vector<ShardSource> sources;

  // Every URL, sources concatenated in order.
  std::vector<std::string> urls() const;
  std::size_t size() const;
  // True when the sources' weights differ (then only resampled mode can honour them).
  bool weighted() const;
};

// Expands one brace pattern (no globbing); rsclip::Error for unbalanced braces or more
// than `limit` results.
std::vector<std::string> brace_expand(std::string_view pattern, std::size_t limit = 1'000'000);

// Parses and expands a SPEC string; rsclip::Error naming the source for anything wrong
// (empty spec, bad weight, no file matching a glob).
ShardList parse_shard_spec(const std::string& spec);

// Expands a list of (pattern, weight) sources (the YAML list form).
ShardList expand_sources(const std::vector<std::pair<std::string, double>>& sources);

// The total sample count from a `sizes.json` ({"shard.tar": count, ...}) or `__len__` next
// to the first shard, as open_clip_train's get_dataset_size reads it; nullopt when neither
// exists, the shards are not local files, or sizes.json lacks one of the shards.
std::optional<std::int64_t> dataset_size_hint(const ShardList& shards);

// A short printable form of a URL for logs: pipe commands and paths longer than 120
// characters are shortened in the middle.
std::string shard_label(const std::string& url);

}  // namespace rsclip::data
