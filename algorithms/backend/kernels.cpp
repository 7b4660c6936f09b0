// OpenMP implementations of kernels.hpp. Rows are distributed over threads; the inner loops are
// written so the compiler vectorises them (-O3 -march=native).
#include "algorithms/backend/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <omp.h>

#include "algorithms/backend/parallel.hpp"

namespace ffb::kern {

void bias_add(const Mat& y, const float* bias) {
  parallel_for(y.rows, [&](int64_t b) {
    float* row = y.row(b);
#pragma omp simd
    for (int64_t n = 0; n < y.cols; ++n) row[n] += bias[n];
  });
}

namespace {
// The column sums' blocking. Narrow matrices (at most 256 columns a thread) keep 64-column blocks
// with a compile-time size, as before: the fewest instructions for small layers (the regression
// check counts them on 64-wide layers). Wider ones give each thread one contiguous slice of the
// columns (a multiple of 16 floats, at most kMaxColumnBlock), walked row by row: a row's slice is
// one long run the prefetchers follow, where 64-column blocks strided across rows (cold operands,
// 256 rows: 1 thread 377 -> 150 us at 500 columns, 2 threads 895 -> 514 us at 2000, medians on the
// Zen 1 VM; warm about the same or better). Either way each column sums its rows in order from
// zero, so the bits depend on neither the blocking nor the thread count.
constexpr int64_t kSmallColumnBlock = 64;
constexpr int64_t kSmallColumnSlice = 256;  // up to this many columns a thread: 64-column blocks
constexpr int64_t kMaxColumnBlock = 1024;
int64_t column_slice(int64_t cols) {
  const int64_t teams = std::max(1, omp_get_max_threads());
  const int64_t slice = ((cols + teams - 1) / teams + 15) / 16 * 16;
  return std::min(slice, kMaxColumnBlock);
}

// Column sums over the rows, in column blocks so each thread owns its part of dbias (no reduction
// races). kRelu false: dbias += the column sums of dy. kRelu true: dx = dy where y > 0 (else 0) and
// dbias = the column sums of dx. kSlice false: blocks of kBlock columns (a constant); true: blocks of
// `slice` <= kBlock columns. The two kinds are separate loops at compile time: the regression
// check's exact counts (allocator left out) read the same instructions, to the one, as two
// written-out functions did for pepita, scff, bp and ff (2026-11-30).
template <int64_t kBlock, bool kSlice, bool kRelu>
void column_sum_blocks(float* dbias, const Mat& dy, const Mat* dx, const Mat* y, int64_t slice) {
  const int64_t block = kSlice ? slice : kBlock;
  const int64_t blocks = (dy.cols + block - 1) / block;
  parallel_for(blocks, [&](int64_t blk) {
    const int64_t begin = blk * block;
    const int64_t end = std::min(dy.cols, begin + block);
    float acc[kBlock] = {};
    for (int64_t b = 0; b < dy.rows; ++b) {
      const float* grad = dy.row(b);
      if constexpr (kRelu) {
        const float* out = y->row(b);
        float* result = dx->row(b);
#pragma omp simd
        for (int64_t n = begin; n < end; ++n) {
          const float v = out[n] > 0.0f ? grad[n] : 0.0f;
          result[n] = v;
          acc[n - begin] += v;
        }
      } else {
#pragma omp simd
        for (int64_t n = begin; n < end; ++n) acc[n - begin] += grad[n];
      }
    }
    for (int64_t n = begin; n < end; ++n) dbias[n] = (kRelu ? 0.0f : dbias[n]) + acc[n - begin];
  });
}

template <bool kRelu>
void column_sums(float* dbias, const Mat& dy, const Mat* dx, const Mat* y) {
  const int64_t slice = column_slice(dy.cols);
  if (slice <= kSmallColumnSlice)
    column_sum_blocks<kSmallColumnBlock, false, kRelu>(dbias, dy, dx, y, slice);
  else
    column_sum_blocks<kMaxColumnBlock, true, kRelu>(dbias, dy, dx, y, slice);
}
}  // namespace

void bias_grad_accumulate(float* dbias, const Mat& dy) { column_sums<false>(dbias, dy, nullptr, nullptr); }

void relu_forward(const Mat& y, const Mat& x) {
  parallel_for(x.rows, [&](int64_t b) {
    const float* in = x.row(b);
    float* out = y.row(b);
#pragma omp simd
    for (int64_t n = 0; n < x.cols; ++n) out[n] = in[n] > 0.0f ? in[n] : 0.0f;
  });
}

void relu_backward(const Mat& dx, const Mat& dy, const Mat& y) {
  parallel_for(y.rows, [&](int64_t b) {
    const float* grad = dy.row(b);
    const float* out = y.row(b);
    float* result = dx.row(b);
#pragma omp simd
    for (int64_t n = 0; n < y.cols; ++n) result[n] = out[n] > 0.0f ? grad[n] : 0.0f;
  });
}

void relu_backward_bias_grad(const Mat& dx, float* dbias, const Mat& dy, const Mat& y) {
  column_sums<true>(dbias, dy, &dx, &y);
}

float row_sum_squares(const float* x, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += x[i] * x[i];
  return acc;
}

float normalize_row(float* out, const float* in, int64_t n, float c, float eps) {
  const float s = norm_scale(row_sum_squares(in, n), c, eps);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = in[i] * s;
  return s;
}

void normalize_forward(const Mat& y, float* scale, const Mat& x, NormKind kind, float eps) {
  const float c = kind == NormKind::l2 ? 1.0f : 1.0f / static_cast<float>(x.cols);
  parallel_for(x.rows, [&](int64_t b) { scale[b] = normalize_row(y.row(b), x.row(b), x.cols, c, eps); });
}

void normalize_backward(const Mat& dx, const Mat& dy, const Mat& x, const float* scale, NormKind kind, float eps) {
  const float c = kind == NormKind::l2 ? 1.0f : 1.0f / static_cast<float>(x.cols);
  parallel_for(x.rows, [&](int64_t b) {
    const float* in = x.row(b);
    const float* grad = dy.row(b);
    float* result = dx.row(b);
    const float s = scale[b];
    const float r = 1.0f / s - eps;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t n = 0; n < x.cols; ++n) dot += grad[n] * in[n];
    // d s / d x_n = -s^2 * c * x_n / r ; zero at the origin, where the norm is not differentiable.
    const float coef = r > 0.0f ? s * s * c * dot / r : 0.0f;
#pragma omp simd
    for (int64_t n = 0; n < x.cols; ++n) result[n] = s * grad[n] - coef * in[n];
  });
}

void goodness_forward(float* g, const Mat& h, bool mean) {
  const float c = mean ? 1.0f / static_cast<float>(h.cols) : 1.0f;
  parallel_for(h.rows, [&](int64_t b) { g[b] = c * row_sum_squares(h.row(b), h.cols); });
}

void goodness_backward(const Mat& dh, const float* dg, const Mat& h, bool mean) {
  const float c = mean ? 2.0f / static_cast<float>(h.cols) : 2.0f;
  parallel_for(h.rows, [&](int64_t b) {
    const float* in = h.row(b);
    float* out = dh.row(b);
    const float k = c * dg[b];
#pragma omp simd
    for (int64_t n = 0; n < h.cols; ++n) out[n] = k * in[n];
  });
}

float softplus(float x) { return x > 0.0f ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

float sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}

void softplus_forward(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = softplus(x[i]);
}

void softplus_backward(float* dx, const float* dy, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * sigmoid(x[i]);
}

float softmax_xent_forward(const Mat& probs, float* losses, const Mat& logits, const int32_t* labels) {
  const double total = parallel_sum(logits.rows, [&](int64_t b) -> double {
    const float* in = logits.row(b);
    float* p = probs.row(b);
    float max_logit = in[0];
    for (int64_t k = 1; k < logits.cols; ++k) max_logit = std::max(max_logit, in[k]);
    float sum = 0.0f;
    for (int64_t k = 0; k < logits.cols; ++k) {
      p[k] = std::exp(in[k] - max_logit);
      sum += p[k];
    }
    const float inv = 1.0f / sum;
    for (int64_t k = 0; k < logits.cols; ++k) p[k] *= inv;
    const float loss = -(in[labels[b]] - max_logit - std::log(sum));
    if (losses != nullptr) losses[b] = loss;
    return loss;
  });
  return logits.rows > 0 ? static_cast<float>(total / static_cast<double>(logits.rows)) : 0.0f;
}

void softmax_xent_backward(const Mat& dlogits, const Mat& probs, const int32_t* labels, float scale) {
  parallel_for(probs.rows, [&](int64_t b) {
    const float* p = probs.row(b);
    float* out = dlogits.row(b);
    for (int64_t k = 0; k < probs.cols; ++k) out[k] = p[k] * scale;
    out[labels[b]] -= scale;
  });
}

void argmax_rows(int32_t* out, const Mat& x) {
  parallel_for(x.rows, [&](int64_t b) {
    const float* row = x.row(b);
    int64_t best = 0;
    for (int64_t k = 1; k < x.cols; ++k)
      if (row[k] > row[best]) best = k;
    out[b] = static_cast<int32_t>(best);
  });
}

namespace {
inline uint16_t bf16_bits(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof word);
  if ((word & 0x7f800000u) == 0x7f800000u && (word & 0x007fffffu) != 0) return static_cast<uint16_t>((word >> 16) | 0x40);
  word += 0x7fffu + ((word >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>(word >> 16);
}
}  // namespace

void to_bf16(uint16_t* out, const float* in, int64_t n) {
  parallel_ranges(n, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) out[i] = bf16_bits(in[i]);
  });
}

void to_bf16(uint16_t* out, int64_t out_ld, const Mat& in) {
  parallel_for(in.rows, [&](int64_t r) {
    const float* row = in.row(r);
    uint16_t* dst = out + r * out_ld;
#pragma omp simd
    for (int64_t c = 0; c < in.cols; ++c) dst[c] = bf16_bits(row[c]);
  });
}

float from_bf16(uint16_t bits) {
  const uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, sizeof value);
  return value;
}

void copy(const Mat& dst, const Mat& src) {
  parallel_for(src.rows, [&](int64_t b) { std::memcpy(dst.row(b), src.row(b), static_cast<size_t>(src.cols) * sizeof(float)); });
}

void fill(const Mat& dst, float value) {
  parallel_for(dst.rows, [&](int64_t b) { std::fill(dst.row(b), dst.row(b) + dst.cols, value); });
}

}  // namespace ffb::kern
