// SceneRng: the synthetic scene generator's own random numbers (splitmix64, Steele, Lea &
// Flood 2014). std:: distributions are implementation-defined (libstdc++ and libc++ give
// different normal/uniform_int sequences for the same engine), so a dataset generated from
// a seed would differ between machines; every draw here is plain integer arithmetic or an
// exactly representable conversion, so (seed, stream, index) -> identical bytes everywhere.
#pragma once

#include <cstdint>
#include <span>
#include <utility>

namespace rsclip::data {

class SceneRng {
 public:
  explicit SceneRng(std::uint64_t seed) : state_(seed) {}

  // An independent generator for item `index` of stream `stream` (train, zero-shot test,
  // caption test, ...): the three values are mixed through splitmix's finaliser so that
  // neighbouring indices and seeds give unrelated sequences.
  static SceneRng for_item(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
    std::uint64_t h = mix(seed ^ 0x5eed5eed5eed5eedULL);
    h = mix(h ^ (stream * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL));
    h = mix(h ^ (index * 0xd1b54a32d192ed03ULL + 0x8cb92ba72f3d8dd7ULL));
    return SceneRng(h);
  }

  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix(state_);
  }

  // Uniform in [0, 1) with 53 random bits (exact conversion).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // Uniform integer in [lo, hi] (inclusive), by the multiply-shift map (Lemire): no modulo
  // bias worth speaking of for the small ranges used here.
  int range(int lo, int hi) {
    const auto span = static_cast<std::uint64_t>(static_cast<std::int64_t>(hi) - lo + 1);
    const auto r = static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * span) >> 64);
    return lo + static_cast<int>(r);
  }

  bool chance(double p) { return uniform() < p; }

  template <class T>
  const T& pick(std::span<const T> items) {
    return items[static_cast<std::size_t>(range(0, static_cast<int>(items.size()) - 1))];
  }

  // Fisher-Yates with this generator (std::shuffle's use of the engine is unspecified).
  template <class T>
  void shuffle(std::span<T> items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      const auto j = static_cast<std::size_t>(range(0, static_cast<int>(i) - 1));
      std::swap(items[i - 1], items[j]);
    }
  }

 private:
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t state_;
};

}  // namespace rsclip::data
