// Python's `random.Random`, bit for bit: MT19937 seeded with CPython's init_by_array from
// the 32-bit words of |seed| (Modules/_randommodule.c, random_seed), `getrandbits(k)` and
// `randbelow(n)` (Lib/random.py, _randbelow_with_getrandbits: draw bit_length(n) bits,
// reject while >= n). The loader uses it for every shuffle so that the shard order of an
// epoch equals open_clip_train's `detshuffle2` (Random(seed + epoch) driving webdataset's
// `_shuffle`), and so that a stream position can be replayed from its seed alone.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>

namespace rsclip::data {

class PyRandom {
 public:
  PyRandom() { seed_with(0); }
  explicit PyRandom(std::uint64_t seed) { seed_with(seed); }

  // random.seed(n) for a non-negative integer n < 2**64.
  void seed_with(std::uint64_t seed);

  std::uint32_t next_u32();
  // random.getrandbits(k), 0 < k <= 64.
  std::uint64_t getrandbits(int k);
  // random._randbelow(n) for n >= 1 (randint(0, n - 1)); draws even for n == 1, as Python does.
  std::uint64_t randbelow(std::uint64_t n);
  // random.random(): 53-bit float in [0, 1).
  double random();

 private:
  std::array<std::uint32_t, 624> mt_{};
  int index_ = 624;
};

// A well-mixed 64-bit seed from several integers (splitmix64 over each in turn), for the
// per-pass / per-sample seeds that need no Python counterpart.
std::uint64_t mix_seed(std::initializer_list<std::uint64_t> parts);

}  // namespace rsclip::data
