// Independent random streams derived from one user seed, so that e.g. changing the number of test
// samples never changes the training samples. Private to datasets/ (synthetic.cpp, batcher.cpp).
#pragma once
#include <cstdint>

namespace ffb::data::detail {

enum class Stream : uint64_t { kTeacher = 1, kCalibration = 2, kTrain = 3, kTest = 4, kShuffle = 5 };

inline uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  // splitmix64-style finaliser over both inputs: nearby (seed, stream) pairs give unrelated seeds.
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + (stream + 1) * 0xD1B54A32D192ED03ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline uint64_t derive_seed(uint64_t seed, Stream stream) { return derive_seed(seed, static_cast<uint64_t>(stream)); }

}  // namespace ffb::data::detail
