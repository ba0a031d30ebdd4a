// libFuzzer target for the tar -> sample path of the loader: libarchive's tar reader (plain
// or compressed), webdataset grouping, field choice and caption checks, as a stream reader
// runs them on a shard. Any input must end in samples or a TarError, never a crash, a hang
// or an allocation beyond the input's size (the member limit here is 1 MiB).
#include <cstddef>

#include <cstdint>
#include <span>

#include "data/shards/tar_reader.h"
#include "data/shards/webdataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rsclip::data;
  static const FieldChoice choice = FieldChoice::parse("jpg;jpeg;png;webp;tif;tiff;img_content", "txt;caption", "json");
  try {
    auto reader = TarReader::from_memory(std::span<const std::uint8_t>(data, size), "fuzz");
    SampleGrouper grouper(*reader, 1 << 20, [](std::string_view ext) { return choice.wanted(ext); });
    TarSample grouped;
    Sample sample;
    std::size_t accepted = 0;
    while (grouper.next(grouped)) {
      for (std::size_t i = 0; i < grouped.count; ++i) {
        const auto& f = grouped.fields[i];
        if (f.loaded && f.data.size() != f.size) __builtin_trap();
      }
      if (!accept_sample(grouped, choice, sample)) {
        if (!is_valid_utf8(sample.text)) __builtin_trap();
        ++accepted;
      }
    }
    reader->finish();
  } catch (const TarError&) {
  } catch (const rsclip::Error&) {
  }
  return 0;
}
