// Counter-based randomness for the data layer (included by data.cc only).
//
// Why counter-based: the order of an epoch and the augmentation of a sample must be pure functions of
// (seed, epoch[, index]) so batches never depend on thread timing, worker count, or what else the
// process draws from a shared generator. Each use hashes its key into a fresh SplitMix64 stream.
// Everything here is defined bit for bit (no std:: distributions, whose algorithms vary by library).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <numeric>
#include <utility>
#include <vector>

namespace sgdr {
namespace data_detail {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

// SplitMix64's finalizer: a bijective 64-bit mix.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Hash of a key tuple; distinct tuples give unrelated streams.
inline uint64_t HashKey(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x6a09e667f3bcc909ULL;
  for (uint64_t p : parts) h = Mix64(h ^ Mix64(p + kGolden));
  return h;
}

// Stream identifiers, so the order and the augmentation of the same (seed, epoch) are independent.
enum Stream : uint64_t { kOrderStream = 1, kAugmentStream = 2, kSyntheticStream = 3 };

class Rng {
 public:
  explicit Rng(uint64_t key) : state_(key) {}

  uint64_t Next() { return Mix64(state_ += kGolden); }

  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }

  // Uniform integer in [0, n), n >= 1, without modulo bias (Lemire's multiply-and-reject).
  uint64_t Below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(Next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  uint64_t state_;
};

// Fisher–Yates permutation of [0, n) drawn from `rng`.
inline std::vector<int64_t> Permutation(int64_t n, Rng& rng) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.Below(static_cast<uint64_t>(i) + 1)]);
  return order;
}

}  // namespace data_detail
}  // namespace sgdr
