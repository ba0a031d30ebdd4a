// webdataset samples from a tar stream.
//
// Grouping (webdataset 1.0.2 tariterators.base_plus_ext + group_by_keys): a member name
// splits at the first dot of its basename into key and extension, by the regular
// expression ^((?:.*/|)[^.]+)[.]([^/]*)$ ("dir/abc.def.JPG" -> key "dir/abc", field
// "def.jpg"; the field is lower-cased). Names that do not match (no extension) are
// ignored. Consecutive members with the same key form one sample; a new key starts the
// next. A field seen twice in a row under one key starts a new sample with the same key,
// as open_clip_train's group_by_keys_nothrow does (webdataset's own version raises).
// Samples never span shards.
//
// Field choice (webdataset's rename("image=jpg;png")): the first extension of a list of
// alternatives present in the sample. Defaults: image jpg;jpeg;png;webp;tif;tiff;img_content,
// text txt;caption, metadata json (RS5M's img_content/caption work as they are).
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/shards/faults.h"
#include "data/shards/tar_reader.h"

namespace rsclip::data {

struct KeySplit {
  std::string_view key, extension;  // extension not yet lower-cased
};
// base_plus_ext; nullopt where the regular expression does not match.
std::optional<KeySplit> split_key(std::string_view name);

struct TarField {
  std::string extension;           // lower-cased
  std::vector<std::uint8_t> data;  // empty unless `loaded`
  std::uint64_t size = 0;          // from the header
  bool loaded = false;
  bool oversized = false;  // larger than the grouper's member limit; never read
};

// One grouped sample. Buffers keep their capacity when the object is reused.
struct TarSample {
  std::string key;
  std::vector<TarField> fields;  // the first `count` are this sample's
  std::size_t count = 0;
  std::uint64_t ordinal = 0;  // position among the shard's grouped samples

  const TarField* find(std::string_view extension) const;
  TarField* find(std::string_view extension);
};

class SampleGrouper {
 public:
  // `want(extension)` says whether a field's bytes are read; others are skipped (they
  // still appear in the sample with their size). Empty: read everything.
  using Want = std::function<bool(std::string_view extension)>;
  SampleGrouper(TarReader& reader, std::uint64_t max_member_bytes, Want want = {});

  // The next sample; false at the end of the shard. When the archive breaks (TarError), the
  // sample being assembled is still returned with the members read completely before the
  // break (a member whose bytes broke off belongs to no sample, as in webdataset, whose
  // tar iterator drops it and ends the shard); the error is thrown by the following call.
  bool next(TarSample& out);
  TarReader& reader() { return reader_; }

 private:
  void start_sample(std::string_view key);
  void add_field(std::string_view extension);
  bool step(TarSample& out, bool& produced);

  TarReader& reader_;
  std::uint64_t max_member_bytes_;
  Want want_;
  TarSample current_;
  bool have_current_ = false;
  std::uint64_t next_ordinal_ = 0;
  // The first member of the next sample: header read, bytes read on the following call (so
  // that a break in them cannot take the finished sample down with it).
  bool pending_ = false;
  std::string pending_extension_;
  std::exception_ptr error_;
};

// Extension alternatives, parsed from "jpg;jpeg;png".
struct FieldChoice {
  std::vector<std::string> image, text, json;
  static FieldChoice parse(const std::string& image, const std::string& text, const std::string& json);
  bool wanted(std::string_view extension) const;
};

// Where a sample came from: the pass of its stream, the position in that pass's shard
// sequence, and its index among the shard's accepted samples.
struct SampleRef {
  std::uint32_t pass = 0;
  std::uint32_t position = 0;
  std::uint64_t index = 0;
  friend bool operator==(const SampleRef&, const SampleRef&) = default;
};

// The loader's unit of work: the chosen fields of one accepted sample.
struct Sample {
  SampleRef ref;
  std::string key;
  std::vector<std::uint8_t> image;
  std::string text;  // valid UTF-8, not blank
  std::string json;  // raw bytes of the metadata member, "" if none
  std::string image_extension;
};

// Checks a grouped sample against the fault policy and moves its chosen fields into
// `out` (swapping buffers: no copy, no allocation once warm). Returns the fault that
// rejects it, or nullopt when accepted. The verdict needs the caption's bytes, not the
// image's: an image whose bytes were skipped leaves out.image empty.
std::optional<Fault> accept_sample(TarSample& in, const FieldChoice& choice, Sample& out);

}  // namespace rsclip::data
