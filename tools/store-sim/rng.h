// Small deterministic pseudo-random helpers for store-sim: SplitMix64 mixing, a counter-based
// generator, and FNV-1a 64. Same seed, same numbers, on every platform (no std:: distributions,
// whose outputs are implementation-defined).
#pragma once

#include <cmath>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace autosync::storesim {

inline constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
inline constexpr uint64_t kFnvPrime = 1099511628211ULL;

// FNV-1a 64 over bytes, continuing from `hash` so that callers can stream several pieces.
inline uint64_t Fnv1a64(absl::string_view bytes, uint64_t hash = kFnvOffset) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= kFnvPrime;
  }
  return hash;
}

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Mixes several values into one well-distributed 64-bit key (order matters).
inline uint64_t MixKeys(uint64_t a, uint64_t b) { return SplitMix64(a ^ SplitMix64(b)); }
inline uint64_t MixKeys(uint64_t a, uint64_t b, uint64_t c) { return MixKeys(MixKeys(a, b), c); }

// A SplitMix64 stream: cheap to seed per order/day/campaign, so each value depends only on its
// own key and generation order never changes the data.
class Rng final {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n); n > 0.
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  // Uniform integer in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  bool Chance(double p) { return Uniform() < p; }
  // Exponential with the given mean.
  double Exponential(double mean) { return -mean * std::log(1.0 - Uniform()); }

 private:
  uint64_t state_;
};

}  // namespace autosync::storesim
