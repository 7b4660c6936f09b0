// OpenMP kernels for everything besides matmul that FF and BP need, each with its backward.
// Convention (after llm.c): outputs first, then inputs; shapes come from the Mat views.
// Backward kernels overwrite their output (they do not accumulate) unless the name says `accumulate`.
// Shapes: B rows (the batch), N or H columns.
#pragma once
#include <cmath>
#include <cstdint>

#include "algorithms/backend/tensor.hpp"

namespace ffb::kern {

enum class NormKind { l2, rms };

// y[b, n] += bias[n]
void bias_add(const Mat& y, const float* bias);
// dbias[n] += sum_b dy[b, n]   (accumulates)
void bias_grad_accumulate(float* dbias, const Mat& dy);

// y = max(x, 0); y may alias x.
void relu_forward(const Mat& y, const Mat& x);
// dx = dy * (y > 0); dx may alias dy.
void relu_backward(const Mat& dx, const Mat& dy, const Mat& y);
// relu_backward and then dbias[n] = sum_b dx[b, n] (written, not accumulated) in one pass over
// column blocks: the same bits as relu_backward followed by zeroing dbias and bias_grad_accumulate.
void relu_backward_bias_grad(const Mat& dx, float* dbias, const Mat& dy, const Mat& y);

// y[b] = x[b] * scale[b], scale[b] = 1 / (r[b] + eps) with r = ||x[b]|| (l2) or sqrt(mean x[b]^2) (rms).
// scale (B floats) is kept for the backward. y may alias x only if the backward is not needed.
void normalize_forward(const Mat& y, float* scale, const Mat& x, NormKind kind, float eps);
// One row of normalize_forward (c = 1 for l2, 1/n for rms); returns its scale. out may be in
// (in place). A fused pass that calls it gets normalize_forward's bits: the same compiled code.
float normalize_row(float* out, const float* in, int64_t n, float c, float eps);
// The scale normalize_row applies to a row whose sum of squares is `sum`: 1 / (sqrt(c sum) + eps).
// For fused passes that already have the sum (the goodness).
inline float norm_scale(float sum, float c, float eps) { return 1.0f / (std::sqrt(c * sum) + eps); }
// dx = d(y)/d(x)^T dy given the forward's x and scale.
void normalize_backward(const Mat& dx, const Mat& dy, const Mat& x, const float* scale, NormKind kind, float eps);

// Goodness: g[b] = sum_h h[b,h]^2, or its mean over H when `mean`.
void goodness_forward(float* g, const Mat& h, bool mean);
// sum_n x[n]^2 of one row: the reduction normalize_forward and goodness_forward share. Out of line
// on purpose: the order of a vectorised reduction is the compiler's choice and can change with the
// loop it is inlined into, so every caller (the kernels and the fused passes) runs the same
// compiled code and gets the same bits.
float row_sum_squares(const float* x, int64_t n);
// dh[b,h] = dg[b] * 2 h[b,h] (/ H when mean)
void goodness_backward(const Mat& dh, const float* dg, const Mat& h, bool mean);

// softplus(x) = log(1 + exp(x)), computed without overflow; its derivative is sigmoid(x).
float softplus(float x);
float sigmoid(float x);
void softplus_forward(float* y, const float* x, int64_t n);
void softplus_backward(float* dx, const float* dy, const float* x, int64_t n);

// Row-wise softmax with cross-entropy against integer labels. Returns the mean loss over rows;
// probs gets the softmax; losses (may be nullptr) gets each row's loss.
float softmax_xent_forward(const Mat& probs, float* losses, const Mat& logits, const int32_t* labels);
// dlogits = (probs - onehot(labels)) * scale; scale is usually 1/B (the mean loss).
void softmax_xent_backward(const Mat& dlogits, const Mat& probs, const int32_t* labels, float scale);

// Row-wise argmax (labels out).
void argmax_rows(int32_t* out, const Mat& x);

// float -> bfloat16 (round to nearest even; NaN stays NaN), n values; and row by row for views.
void to_bf16(uint16_t* out, const float* in, int64_t n);
void to_bf16(uint16_t* out, int64_t out_ld, const Mat& in);
float from_bf16(uint16_t bits);

// Copy rows (dst and src may have different strides).
void copy(const Mat& dst, const Mat& src);
void fill(const Mat& dst, float value);

}  // namespace ffb::kern
