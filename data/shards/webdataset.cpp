#include "data/shards/webdataset.h"

#include <algorithm>
#include <utility>

#include <c10/util/Exception.h>

#include "core/base/utf8.h"

namespace rsclip::data {

std::optional<KeySplit> split_key(std::string_view s) {
  // An exact port of how Python's re engine matches ^((?:.*/|)[^.]+)[.]([^/]*)$:
  // `(?:.*/|)` is tried with the longest `.*` first (it cannot cross a '\n'), then empty;
  // `[^.]+` must then run non-empty up to the first dot p, and nothing after p may be '/'.
  const auto try_from = [&](std::size_t q) -> std::optional<KeySplit> {
    if (q >= s.size() || s[q] == '.') return std::nullopt;
    const auto p = s.find('.', q);
    if (p == std::string_view::npos || s.find('/', p + 1) != std::string_view::npos) return std::nullopt;
    return KeySplit{s.substr(0, p), s.substr(p + 1)};
  };
  const auto first_newline = s.find('\n');
  for (auto slash = s.rfind('/'); slash != std::string_view::npos;
       slash = slash == 0 ? std::string_view::npos : s.rfind('/', slash - 1)) {
    if (first_newline != std::string_view::npos && first_newline < slash) continue;
    if (auto r = try_from(slash + 1)) return r;
  }
  return try_from(0);
}

const TarField* TarSample::find(std::string_view extension) const {
  for (std::size_t i = 0; i < count; ++i)
    if (fields[i].extension == extension) return &fields[i];
  return nullptr;
}

TarField* TarSample::find(std::string_view extension) {
  return const_cast<TarField*>(static_cast<const TarSample&>(*this).find(extension));
}

SampleGrouper::SampleGrouper(TarReader& reader, std::uint64_t max_member_bytes, Want want)
    : reader_(reader), max_member_bytes_(max_member_bytes), want_(std::move(want)) {}

void SampleGrouper::start_sample(std::string_view key) {
  current_.key.assign(key);
  current_.count = 0;
  current_.ordinal = next_ordinal_++;
  have_current_ = true;
}

void SampleGrouper::add_field(std::string_view extension) {
  if (current_.count == current_.fields.size()) current_.fields.emplace_back();
  TarField& f = current_.fields[current_.count];
  f.extension.assign(extension);
  std::transform(f.extension.begin(), f.extension.end(), f.extension.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  f.size = reader_.size();
  f.oversized = f.size > max_member_bytes_;
  f.loaded = false;
  f.data.clear();
  if (!f.oversized && (!want_ || want_(f.extension))) {
    reader_.read(f.data);
    f.loaded = true;
  }
  ++current_.count;  // only once its bytes are in: a member that breaks off belongs to no sample
}

bool SampleGrouper::next(TarSample& out) {
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  try {
    bool produced = false;
    while (step(out, produced)) {
      if (produced) return true;
    }
  } catch (const TarError&) {
    pending_ = false;
    if (!have_current_ || current_.count == 0) throw;
    error_ = std::current_exception();
  }
  // End of the archive (or a break): what was assembled is the last sample.
  if (!have_current_ || current_.count == 0) return false;
  std::swap(out, current_);
  have_current_ = false;
  return true;
}

// Handles one member; false at the end of the archive. Sets `produced` when `out` holds a
// finished sample.
bool SampleGrouper::step(TarSample& out, bool& produced) {
  if (pending_) {
    pending_ = false;
    add_field(pending_extension_);
  }
  if (!reader_.next()) return false;
  const auto split = split_key(reader_.name());
  if (!split) return true;
  const std::string_view ext = split->extension;
  // Python lower-cases with str.lower(); only ASCII letters are folded here, which is what
  // every image/text extension needs.
  const auto same_lowered = [&](const std::string& e) {
    return e.size() == ext.size() && std::equal(e.begin(), e.end(), ext.begin(), [](char a, char b) {
             return a == ((b >= 'A' && b <= 'Z') ? static_cast<char>(b + 32) : b);
           });
  };
  bool repeated = false;
  if (have_current_ && split->key == current_.key)
    for (std::size_t i = 0; i < current_.count && !repeated; ++i) repeated = same_lowered(current_.fields[i].extension);
  if (have_current_ && current_.count > 0 && (split->key != current_.key || repeated)) {
    std::swap(out, current_);
    start_sample(split->key);
    pending_ = true;
    pending_extension_.assign(ext);
    produced = true;
    return true;
  }
  if (!have_current_ || split->key != current_.key) start_sample(split->key);
  add_field(ext);
  return true;
}

namespace {

std::vector<std::string> split_alternatives(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto semi = s.find(';', start);
    std::string part = s.substr(start, semi == std::string::npos ? std::string::npos : semi - start);
    std::transform(part.begin(), part.end(), part.begin(),
                   [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
    if (!part.empty()) out.push_back(std::move(part));
    if (semi == std::string::npos) break;
    start = semi + 1;
  }
  return out;
}

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); });
}

TarField* choose(TarSample& s, const std::vector<std::string>& alternatives) {
  for (const auto& ext : alternatives)
    if (TarField* f = s.find(ext)) return f;
  return nullptr;
}

}  // namespace

FieldChoice FieldChoice::parse(const std::string& image, const std::string& text, const std::string& json) {
  FieldChoice c{split_alternatives(image), split_alternatives(text), split_alternatives(json)};
  if (c.image.empty()) throw Error("no image extensions given", "data.image_fields", "e.g. jpg;jpeg;png;webp");
  if (c.text.empty()) throw Error("no text extensions given", "data.text_fields", "e.g. txt;caption");
  return c;
}

bool FieldChoice::wanted(std::string_view extension) const {
  const auto in = [&](const std::vector<std::string>& v) {
    return std::find(v.begin(), v.end(), extension) != v.end();
  };
  return in(image) || in(text) || in(json);
}

std::optional<Fault> accept_sample(TarSample& in, const FieldChoice& choice, Sample& out) {
  TarField* image = choose(in, choice.image);
  if (!image) return Fault::missing_image;
  TarField* text = choose(in, choice.text);
  if (!text) return Fault::missing_text;
  if (image->oversized || text->oversized) return Fault::oversized_member;
  TORCH_CHECK(text->loaded, "accept_sample: the caption was not read");
  const std::string_view caption(reinterpret_cast<const char*>(text->data.data()), text->data.size());
  if (!is_valid_utf8(caption)) return Fault::bad_utf8;
  if (is_blank(caption)) return Fault::empty_text;

  out.key.swap(in.key);
  if (image->loaded)
    out.image.swap(image->data);
  else
    out.image.clear();
  out.text.assign(caption);
  out.image_extension.assign(image->extension);
  TarField* json = choose(in, choice.json);
  if (json && json->loaded)
    out.json.assign(reinterpret_cast<const char*>(json->data.data()), json->data.size());
  else
    out.json.clear();
  return std::nullopt;
}

}  // namespace rsclip::data
