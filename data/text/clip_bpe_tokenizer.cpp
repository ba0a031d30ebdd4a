#include "data/text/clip_bpe_tokenizer.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include <c10/util/Exception.h>

#include "data/text/pcre2_regex.h"
#include "data/text/text_unicode.h"

extern "C" const unsigned char rsclip_clip_bpe_vocab_begin[], rsclip_clip_bpe_vocab_end[];

namespace rsclip::data {
namespace {

// open_clip: merges = lines[1 : 49152 - 256 - 2 + 1] of the vocabulary file.
constexpr std::size_t kMerges = 49152 - 256 - 2;

std::string gunzip_embedded_vocabulary() {
  constexpr std::size_t kMaxSize = 64u << 20;  // the file inflates to 3.2 MB
  z_stream zs{};
  TORCH_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "zlib inflateInit2 failed");
  zs.next_in = const_cast<Bytef*>(rsclip_clip_bpe_vocab_begin);
  zs.avail_in = static_cast<uInt>(rsclip_clip_bpe_vocab_end - rsclip_clip_bpe_vocab_begin);
  std::string out;
  std::vector<char> chunk(1u << 20);
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    TORCH_CHECK(out.size() < kMaxSize, "embedded CLIP vocabulary inflates beyond ", kMaxSize, " bytes");
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      TORCH_CHECK(false, "embedded CLIP vocabulary is not valid gzip (zlib error ", rc, ")");
    }
    out.append(chunk.data(), chunk.size() - zs.avail_out);
  }
  inflateEnd(&zs);
  return out;
}

// open_clip bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the other 68
// bytes for U+0100.. in byte order. Returned in the order of the vocabulary's first block.
std::array<std::pair<unsigned char, char32_t>, 256> byte_symbols() {
  std::array<std::pair<unsigned char, char32_t>, 256> out{};
  std::array<bool, 256> printable{};
  std::size_t k = 0;
  for (int b = 0; b < 256; ++b) {
    printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (printable[b]) out[k++] = {static_cast<unsigned char>(b), static_cast<char32_t>(b)};
  }
  char32_t next = 256;
  for (int b = 0; b < 256; ++b)
    if (!printable[b]) out[k++] = {static_cast<unsigned char>(b), next++};
  return out;
}

std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}

constexpr std::string_view kSotText = "<start_of_text>";
constexpr std::string_view kEotText = "<end_of_text>";

// The pre-tokenisation pattern (see the header): `\s` spelled as the White_Space set, and
// U+0345 COMBINING GREEK YPOGEGRAMMENI excluded from the last class. The case-insensitive
// `regex` module matches U+0345 with neither [\p{L}]+ nor [^\s\p{L}\p{N}]+ (its case
// variants are letters), so open_clip drops it like a space; it is the only code point where
// case-insensitivity changes what this pattern matches (checked over all of Unicode).
constexpr std::string_view kSplitPattern =
    "<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]"
    "|[^\\p{L}\\p{N}\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}\\x{345}]+";

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Per-thread BPE cache: piece bytes -> ids. Cleared when it grows past kCacheEntries so a
// long-running loader thread stays bounded.
struct BpeCache {
  static constexpr std::size_t kCacheEntries = 1 << 16;
  std::unordered_map<std::string, std::vector<std::int32_t>, StringHash, std::equal_to<>> map;
};

}  // namespace

class ClipBpeTokenizer::Vocabulary {
  struct Merge {
    std::int32_t rank, merged;
  };

 public:
  Vocabulary() : split_(kSplitPattern, kRegexUtf | kRegexUcp | kRegexCaseless) {
    const std::string file = gunzip_embedded_vocabulary();
    // The vocabulary in open_clip's order; each entry's id is its index, except that a
    // string listed twice keeps its last index (dict(zip(vocab, range(len(vocab))))).
    std::vector<std::string> vocab;
    vocab.reserve(kVocabSize);
    const auto symbols = byte_symbols();
    for (const auto& [byte, ch] : symbols) {
      std::string s;
      text::append_utf8(ch, s);
      vocab.push_back(std::move(s));
    }
    for (std::size_t i = 0; i < 256; ++i) vocab.push_back(vocab[i] + "</w>");
    std::vector<std::pair<std::string_view, std::string_view>> merges;
    merges.reserve(kMerges);
    std::size_t pos = file.find('\n');
    TORCH_CHECK(pos != std::string::npos, "embedded CLIP vocabulary has no lines");
    ++pos;
    while (merges.size() < kMerges) {
      std::size_t eol = file.find('\n', pos);
      TORCH_CHECK(eol != std::string::npos, "embedded CLIP vocabulary has only ", merges.size(), " merges");
      const std::string_view line(file.data() + pos, eol - pos);
      const std::size_t space = line.find(' ');
      TORCH_CHECK(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
                      line.find(' ', space + 1) == std::string_view::npos,
                  "embedded CLIP vocabulary line ", merges.size() + 2, " is not a merge: ", line);
      merges.emplace_back(line.substr(0, space), line.substr(space + 1));
      vocab.push_back(std::string(merges.back().first) + std::string(merges.back().second));
      pos = eol + 1;
    }
    vocab.emplace_back(kSotText);
    vocab.emplace_back(kEotText);
    TORCH_CHECK(static_cast<std::int64_t>(vocab.size()) == kVocabSize, "CLIP vocabulary size ", vocab.size());
    for (std::size_t i = 0; i < vocab.size(); ++i) encoder_[vocab[i]] = static_cast<std::int32_t>(i);

    for (const auto& [byte, ch] : symbols) {
      std::string s;
      text::append_utf8(ch, s);
      byte_id_[byte] = id_of(s);
      byte_end_id_[byte] = id_of(s + "</w>");
    }
    std::unordered_map<std::int32_t, std::int32_t> made_by;  // symbol -> rank of the merge making it
    for (std::size_t r = 0; r < merges.size(); ++r) {
      const auto& [a, b] = merges[r];
      const std::int32_t merged = id_of(std::string(a) + std::string(b));
      ranks_[pair_key(id_of(a), id_of(b))] = {static_cast<std::int32_t>(r), merged};
      made_by.emplace(merged, static_cast<std::int32_t>(r));
    }
    for (const auto& [key, merge] : ranks_) {
      for (std::int32_t part : {static_cast<std::int32_t>(key >> 32), static_cast<std::int32_t>(key & 0xFFFFFFFF)}) {
        auto it = made_by.find(part);
        if (it != made_by.end() && it->second >= merge.rank) ranks_monotone_ = false;
      }
    }
  }

  const Regex8& split() const { return split_; }

  // SimpleTokenizer.bpe on one piece's bytes, as ids, appended to `out`.
  void bpe(std::string_view piece, std::vector<std::int32_t>& out) const {
    if (piece == kSotText) return out.push_back(static_cast<std::int32_t>(kSot));
    if (piece == kEotText) return out.push_back(static_cast<std::int32_t>(kEot));
    const std::size_t begin = out.size();
    for (std::size_t i = 0; i < piece.size(); ++i) {
      const auto b = static_cast<unsigned char>(piece[i]);
      out.push_back(i + 1 == piece.size() ? byte_end_id_[b] : byte_id_[b]);
    }
    std::int32_t* w = out.data() + begin;
    const std::size_t n =
        piece.size() <= kShortPiece || !ranks_monotone_ ? bpe_rounds(w, piece.size()) : bpe_heap(w, piece.size());
    out.resize(begin + n);
  }

 private:
  // Pieces up to this many bytes take open_clip's round-by-round algorithm directly; longer
  // ones (quadratic there) the equivalent heap-ordered one.
  static constexpr std::size_t kShortPiece = 32;

  const Merge* find(std::int32_t a, std::int32_t b) const {
    auto it = ranks_.find(pair_key(a, b));
    return it == ranks_.end() ? nullptr : &it->second;
  }

  // open_clip's loop: take the lowest-ranked adjacent pair, merge every occurrence of it
  // left to right, repeat. Returns the new length of w[0..n).
  std::size_t bpe_rounds(std::int32_t* w, std::size_t n) const {
    while (n > 1) {
      const Merge* best = nullptr;
      std::int32_t first = 0, second = 0;
      for (std::size_t i = 0; i + 1 < n; ++i) {
        const Merge* m = find(w[i], w[i + 1]);
        if (m != nullptr && (best == nullptr || m->rank < best->rank)) {
          best = m;
          first = w[i];
          second = w[i + 1];
        }
      }
      if (best == nullptr) break;
      std::size_t k = 0;
      for (std::size_t i = 0; i < n;) {
        if (i + 1 < n && w[i] == first && w[i + 1] == second) {
          w[k++] = best->merged;
          i += 2;
        } else {
          w[k++] = w[i++];
        }
      }
      n = k;
    }
    return n;
  }

  // The same result in O(n log n): candidate pairs in a heap ordered by (rank, position),
  // symbols in a linked list. Equal to bpe_rounds because every merge ranks after the
  // merges that made its two parts (checked when the vocabulary loads): a merge of rank r
  // only creates pairs of rank > r, so all rank-r pairs present when the first is popped are
  // exactly those a round would merge, and they pop left to right, skipping overlaps.
  std::size_t bpe_heap(std::int32_t* w, std::size_t n) const {
    struct Candidate {
      std::int32_t rank;
      std::uint32_t left;
      std::int32_t a, b;
      bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    thread_local std::vector<Candidate> heap;
    thread_local std::vector<std::uint32_t> next, prev;
    constexpr std::uint32_t kNone = UINT32_MAX;
    heap.clear();
    next.resize(n);
    prev.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      next[i] = i + 1 < n ? static_cast<std::uint32_t>(i + 1) : kNone;
      prev[i] = i > 0 ? static_cast<std::uint32_t>(i - 1) : kNone;
    }
    const auto push = [&](std::uint32_t left) {
      if (left == kNone || next[left] == kNone) return;
      if (const Merge* m = find(w[left], w[next[left]])) {
        heap.push_back({m->rank, left, w[left], w[next[left]]});
        std::push_heap(heap.begin(), heap.end(), std::greater<>());
      }
    };
    for (std::size_t i = 0; i + 1 < n; ++i) push(static_cast<std::uint32_t>(i));
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<>());
      const Candidate c = heap.back();
      heap.pop_back();
      const std::uint32_t right = next[c.left];
      // Stale: the left symbol was merged into its left neighbour (-1) or grew, or the
      // right one grew (symbols only ever grow, so equal ids mean untouched nodes).
      if (w[c.left] != c.a || right == kNone || w[right] != c.b) continue;
      w[c.left] = find(c.a, c.b)->merged;
      next[c.left] = next[right];
      if (next[right] != kNone) prev[next[right]] = c.left;
      next[right] = prev[right] = kNone;
      w[right] = -1;
      push(prev[c.left]);
      push(c.left);
    }
    std::size_t k = 0;
    for (std::uint32_t i = 0; i != kNone; i = next[i]) w[k++] = w[i];
    return k;
  }

  std::int32_t id_of(std::string_view s) const {
    auto it = encoder_.find(std::string(s));
    TORCH_CHECK(it != encoder_.end(), "CLIP vocabulary merge uses an unknown symbol: ", s);
    return it->second;
  }

  Regex8 split_;
  std::unordered_map<std::string, std::int32_t> encoder_;
  std::unordered_map<std::uint64_t, Merge> ranks_;
  bool ranks_monotone_ = true;  // see bpe_heap
  std::array<std::int32_t, 256> byte_id_{}, byte_end_id_{};
};

namespace {

std::shared_ptr<const ClipBpeTokenizer::Vocabulary> shared_vocabulary() {
  static std::mutex mutex;
  static std::weak_ptr<const ClipBpeTokenizer::Vocabulary> cached;
  std::lock_guard<std::mutex> lock(mutex);
  auto vocab = cached.lock();
  if (!vocab) {
    vocab = std::make_shared<const ClipBpeTokenizer::Vocabulary>();
    cached = vocab;
  }
  return vocab;
}

}  // namespace

ClipBpeTokenizer::ClipBpeTokenizer(int context_length, text::CleanMode clean)
    : vocab_(shared_vocabulary()), context_length_(context_length), clean_(clean) {
  TORCH_CHECK(context_length >= 2, "CLIP tokenizer context_length must be at least 2, got ", context_length);
}

void ClipBpeTokenizer::append_ids(std::string_view text, std::vector<std::int64_t>& out, std::size_t limit) const {
  thread_local std::string cleaned;
  thread_local BpeCache cache;
  thread_local std::vector<std::int32_t> ids;
  text::clean_text(text, clean_, cleaned);
  const Regex8& split = vocab_->split();
  Match m;
  std::size_t pos = 0;
  while (out.size() < limit && pos < cleaned.size() && split.search(cleaned, pos, m)) {
    const std::string_view piece = std::string_view(cleaned).substr(m.begin, m.end - m.begin);
    pos = m.end;
    auto it = cache.map.find(piece);
    if (it == cache.map.end()) {
      ids.clear();
      vocab_->bpe(piece, ids);
      if (cache.map.size() >= BpeCache::kCacheEntries) cache.map.clear();
      it = cache.map.emplace(std::string(piece), ids).first;
    }
    for (std::int32_t id : it->second) {
      if (out.size() >= limit) break;
      out.push_back(id);
    }
  }
}

std::vector<std::int64_t> ClipBpeTokenizer::encode_ids(std::string_view text) const {
  std::vector<std::int64_t> out;
  append_ids(text, out, SIZE_MAX);
  return out;
}

void ClipBpeTokenizer::encode(std::string_view text, std::int64_t* out) const {
  // [SOT] + ids + [EOT] cut to context_length with the last forced to EOT keeps exactly the
  // first context_length - 2 ids, so the rest of the text need not be split or merged.
  thread_local std::vector<std::int64_t> ids;
  ids.clear();
  const auto n = static_cast<std::size_t>(context_length_);
  append_ids(text, ids, n - 2);
  out[0] = kSot;
  std::memcpy(out + 1, ids.data(), ids.size() * sizeof(std::int64_t));
  out[ids.size() + 1] = kEot;
  std::fill(out + ids.size() + 2, out + n, 0);
}

}  // namespace rsclip::data
