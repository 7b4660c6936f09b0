// See reference.hpp.
#include "algorithms/backend/reference.hpp"

#include <cmath>
#include <cstring>
#include <vector>

namespace ffb::ref {

namespace {
double bf16_value(uint16_t bits) {
  const uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, sizeof value);
  return value;
}
}  // namespace

void matmul(const MatmulShape& requested, const void* a_data, const void* b_data, float* c, const float* bias) {
  const MatmulShape s = requested.normalized();
  const auto* a_f32 = static_cast<const float*>(a_data);
  const auto* b_f32 = static_cast<const float*>(b_data);
  const auto* a_bf16 = static_cast<const uint16_t*>(a_data);
  const auto* b_bf16 = static_cast<const uint16_t*>(b_data);
  auto a = [&](int64_t index) { return s.bf16 ? bf16_value(a_bf16[index]) : static_cast<double>(a_f32[index]); };
  auto b = [&](int64_t index) { return s.bf16 ? bf16_value(b_bf16[index]) : static_cast<double>(b_f32[index]); };
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      double acc = 0.0;
      for (int64_t p = 0; p < s.k; ++p) {
        const double a_ip = s.trans_a ? a(p * s.lda + i) : a(i * s.lda + p);
        const double b_pj = s.trans_b ? b(j * s.ldb + p) : b(p * s.ldb + j);
        acc += a_ip * b_pj;
      }
      if (s.bias) acc += bias[j];
      if (s.accumulate) acc += c[i * s.ldc + j];
      if (s.relu && acc < 0.0) acc = 0.0;
      c[i * s.ldc + j] = static_cast<float>(acc);
    }
  }
}

void bias_add(const Mat& y, const float* bias) {
  for (int64_t b = 0; b < y.rows; ++b)
    for (int64_t n = 0; n < y.cols; ++n) y.at(b, n) += bias[n];
}

void bias_grad_accumulate(float* dbias, const Mat& dy) {
  for (int64_t n = 0; n < dy.cols; ++n) {
    double acc = 0.0;
    for (int64_t b = 0; b < dy.rows; ++b) acc += dy.at(b, n);
    dbias[n] += static_cast<float>(acc);
  }
}

void relu_forward(const Mat& y, const Mat& x) {
  for (int64_t b = 0; b < x.rows; ++b)
    for (int64_t n = 0; n < x.cols; ++n) y.at(b, n) = x.at(b, n) > 0.0f ? x.at(b, n) : 0.0f;
}

void relu_backward(const Mat& dx, const Mat& dy, const Mat& y) {
  for (int64_t b = 0; b < y.rows; ++b)
    for (int64_t n = 0; n < y.cols; ++n) dx.at(b, n) = y.at(b, n) > 0.0f ? dy.at(b, n) : 0.0f;
}

void normalize_forward(const Mat& y, float* scale, const Mat& x, kern::NormKind kind, float eps) {
  for (int64_t b = 0; b < x.rows; ++b) {
    double sum = 0.0;
    for (int64_t n = 0; n < x.cols; ++n) sum += static_cast<double>(x.at(b, n)) * x.at(b, n);
    if (kind == kern::NormKind::rms) sum /= static_cast<double>(x.cols);
    const double s = 1.0 / (std::sqrt(sum) + eps);
    scale[b] = static_cast<float>(s);
    for (int64_t n = 0; n < x.cols; ++n) y.at(b, n) = static_cast<float>(x.at(b, n) * s);
  }
}

void goodness_forward(float* g, const Mat& h, bool mean) {
  for (int64_t b = 0; b < h.rows; ++b) {
    double sum = 0.0;
    for (int64_t n = 0; n < h.cols; ++n) sum += static_cast<double>(h.at(b, n)) * h.at(b, n);
    g[b] = static_cast<float>(mean ? sum / static_cast<double>(h.cols) : sum);
  }
}

void softplus_forward(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(std::log1p(std::exp(static_cast<double>(x[i]))));
}

float softmax_xent_forward(const Mat& probs, float* losses, const Mat& logits, const int32_t* labels) {
  double total = 0.0;
  for (int64_t b = 0; b < logits.rows; ++b) {
    double sum = 0.0;
    for (int64_t k = 0; k < logits.cols; ++k) sum += std::exp(static_cast<double>(logits.at(b, k)));
    for (int64_t k = 0; k < logits.cols; ++k)
      probs.at(b, k) = static_cast<float>(std::exp(static_cast<double>(logits.at(b, k))) / sum);
    const double loss = std::log(sum) - logits.at(b, labels[b]);
    if (losses) losses[b] = static_cast<float>(loss);
    total += loss;
  }
  return static_cast<float>(total / static_cast<double>(logits.rows));
}

}  // namespace ffb::ref
