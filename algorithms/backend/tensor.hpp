// Row-major float matrix views over memory owned elsewhere (normally the Arena).
// Shape vocabulary used across ffbench: B batch, D input size, H hidden size, K classes, L layers.
#pragma once
#include <cstdint>

namespace ffb {

// A view of `rows` x `cols` floats, row r starting at data + r * ld (ld >= cols).
struct Mat {
  float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t ld = 0;

  Mat() = default;
  Mat(float* d, int64_t r, int64_t c) : data(d), rows(r), cols(c), ld(c) {}
  Mat(float* d, int64_t r, int64_t c, int64_t stride) : data(d), rows(r), cols(c), ld(stride) {}

  float* row(int64_t r) const { return data + r * ld; }
  float& at(int64_t r, int64_t c) const { return data[r * ld + c]; }
  int64_t size() const { return rows * cols; }
  bool contiguous() const { return ld == cols; }
  // The first `n` rows (a smaller batch through the same storage).
  Mat first_rows(int64_t n) const { return Mat(data, n, cols, ld); }
};

constexpr int64_t kAlignment = 64;  // bytes: one cache line, one AVX-512 register

inline int64_t round_up(int64_t bytes, int64_t to = kAlignment) { return (bytes + to - 1) / to * to; }

}  // namespace ffb
