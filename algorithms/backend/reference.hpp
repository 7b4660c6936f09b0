// The test oracle: plain-loop implementations (double accumulation) of the backend's operations.
// Slow on purpose and written to be obviously right; the fast paths are checked against these.
#pragma once
#include <cstdint>

#include "algorithms/backend/kernels.hpp"
#include "algorithms/backend/matmul.hpp"

namespace ffb::ref {

// Inputs are float, or bfloat16 (uint16_t) when shape.bf16.
void matmul(const MatmulShape& shape, const void* a, const void* b, float* c, const float* bias = nullptr);

void bias_add(const Mat& y, const float* bias);
void bias_grad_accumulate(float* dbias, const Mat& dy);
void relu_forward(const Mat& y, const Mat& x);
void relu_backward(const Mat& dx, const Mat& dy, const Mat& y);
void normalize_forward(const Mat& y, float* scale, const Mat& x, kern::NormKind kind, float eps);
void goodness_forward(float* g, const Mat& h, bool mean);
void softplus_forward(float* y, const float* x, int64_t n);
float softmax_xent_forward(const Mat& probs, float* losses, const Mat& logits, const int32_t* labels);

}  // namespace ffb::ref
