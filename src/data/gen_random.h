// gen_data's random numbers: its own generator (xoshiro256**, seeded by
// SplitMix64) and its own mappings from bits to values, because the standard
// library's distributions differ between implementations: generated data must
// be the same bytes on every platform for a seed.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

namespace tzrec::data {

inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Stateless hash of two words, used for per-id effects and stream seeds.
inline uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t state = a * 0xd1b54a32d192ed03ULL + b;
  SplitMix64(state);
  return SplitMix64(state);
}

inline uint64_t HashString(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a: only used for salts
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

inline double ToUnit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// xoshiro256**.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& word : s_) word = SplitMix64(seed);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  double Uniform() { return ToUnit(Next()); }
  // Uniform in [0, n), n > 0.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  double Gaussian() {
    double u1 = 1.0 - Uniform();  // (0, 1]
    double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace tzrec::data
