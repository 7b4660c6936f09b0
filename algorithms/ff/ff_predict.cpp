// Forward-Forward's prediction (ff.hpp): softmax (one pass) and goodness (one pass per label), the
// per-layer diagnostics, and the analytic FLOPs of each phase.
#include "algorithms/ff/ff.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <omp.h>

#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/parallel.hpp"

namespace ffb {

void ForwardForward::scores(const float* x, int64_t rows, int mode, float* out_scores) {
  const int64_t k = spec_.classes;
  const float* input = padded_input(x, rows);
  arena_.reset_live();
  if (mode == 0) {
    scores_goodness(input, arena_.floats(score_buffer_));
    std::memcpy(out_scores, arena_.floats(score_buffer_), static_cast<size_t>(rows * k) * sizeof(float));
    return;
  }
  neutral_forward(input, false, true);
  std::memcpy(out_scores, classifier_.logits(arena_), static_cast<size_t>(rows * k) * sizeof(float));
}

void ForwardForward::scores_goodness(const float* x, float* out_scores) {
  // The K candidate inputs differ only in the label slots, and their lengths are equal (the slots
  // hold one value v and K-1 zeros), so layer 1's pre-activation for label k is
  //   s * (x_rest W + v W[k, :]) + b,   s = 1 / (|x_rest, v| + eps):
  // one B x D x H product shared by all labels, then a cheap correction per label. Layers 2.. run
  // all K*B rows through one matmul.
  std::fill(out_scores, out_scores + batch_ * spec_.classes, 0.0f);
  label_free_inputs(x);
  if (!first_layer_scores(out_scores)) return;
  const int64_t kb = spec_.classes * batch_;
  float* hidden = arena_.floats(predict_hidden_);
  float* normalized = arena_.floats(predict_norm_);
  for (int64_t l = 1; l < depth(); ++l) {
    const auto& p = layers_[l];
    packed_weights_[l].run(arena_, ops_[l].infer_labels, normalized, arena_.floats(p.weight), hidden, arena_.floats(p.bias),
                           arena_.raw(scratchpad_), weights_version());
    const bool count = goodness_counts(l), feed = goodness_feeds(l);
    const int64_t width = p.out;
    parallel_for(kb, [&](int64_t r) { goodness_row(hidden + r * width, r, width, count, feed, normalized + r * width, out_scores); });
    if (!feed) break;
  }
}

void ForwardForward::label_free_inputs(const float* x) {
  // Each image with its label slots zeroed (x_rest), its label value v and its scale s.
  const int64_t k = spec_.classes, d = spec_.input;
  float* rest = arena_.floats(embedded_);
  float* values = arena_.floats(label_values_);
  float* row_scale = arena_.floats(scale_);
  const float c = settings_.norm == kern::NormKind::l2 ? 1.0f : 1.0f / static_cast<float>(d);
  parallel_for(batch_, [&](int64_t i) {
    float* row = rest + i * d;
    std::memcpy(row, x + i * d, static_cast<size_t>(d) * sizeof(float));
    const float v = label_value(x + i * d);
    for (int64_t j = 0; j < k; ++j) row[j] = 0.0f;
    float sum = v * v;
    for (int64_t j = 0; j < d; ++j) sum += row[j] * row[j];
    values[i] = v;
    row_scale[i] = 1.0f / (std::sqrt(c * sum) + settings_.norm_eps);
  });
}

void ForwardForward::goodness_row(float* row, int64_t r, int64_t width, bool count, bool feed, float* out,
                                  float* out_scores) const {
  // After each layer, one pass per row (row r = label * B + i) does what goodness_forward, the
  // score sum and normalize_forward did in three: one sum of squares gives the row's goodness (added
  // to its label's score) and the next layer's normalised input. Same expressions, same order: the
  // same bits as the separate kernels.
  const int64_t b = batch_, k = spec_.classes;
  const float sum = kern::row_sum_squares(row, width);
  if (count) out_scores[(r % b) * k + r / b] += (settings_.goodness_mean ? 1.0f / static_cast<float>(width) : 1.0f) * sum;
  if (!feed) return;
  const float norm_c = settings_.norm == kern::NormKind::l2 ? 1.0f : 1.0f / static_cast<float>(width);
  const float s = kern::norm_scale(sum, norm_c, settings_.norm_eps);
#pragma omp simd
  for (int64_t j = 0; j < width; ++j) out[j] = row[j] * s;
}

bool ForwardForward::first_layer_scores(float* out_scores) {
  // Layer 1 from the shared product; its activations are written where its normalised output goes
  // and scaled there in place (the row is still in cache).
  const int64_t b = batch_, k = spec_.classes;
  const auto& first = layers_[0];
  const int64_t h0 = first.out;
  float* product = arena_.floats(first_product_);
  packed_weights_[0].run(arena_, first_product_op_, arena_.floats(embedded_), arena_.floats(first.weight), product, nullptr,
                         arena_.raw(scratchpad_), weights_version());
  const float* values = arena_.floats(label_values_);
  const float* row_scale = arena_.floats(scale_);
  float* normalized = arena_.floats(predict_norm_);
  const float* weight0 = arena_.floats(first.weight);
  const float* bias0 = arena_.floats(first.bias);
  const bool count = goodness_counts(0), feed = goodness_feeds(0);
  parallel_for(k * b, [&](int64_t r) {  // r = label * b + i: collapse(2)'s order
    const int64_t label = r / b, i = r % b;
    const float s = row_scale[i], v = values[i];
    const float* p = product + i * h0;
    const float* w = weight0 + label * h0;
    float* out = normalized + r * h0;
    for (int64_t j = 0; j < h0; ++j) {
      const float z = s * (p[j] + v * w[j]) + bias0[j];
      out[j] = z > 0.0f ? z : 0.0f;
    }
    goodness_row(out, r, h0, count, feed, out, out_scores);
  });
  return feed;
}

void ForwardForward::scores_goodness_naive(const float* x, int64_t rows, float* out_scores) {
  // One full pass per label, B rows at a time: what goodness prediction costs without the shared product.
  const int64_t b = batch_, k = spec_.classes;
  void* scratch = arena_.raw(scratchpad_);
  float* embedded = arena_.floats(embedded_);
  float* normalized = arena_.floats(normalized_a_);
  float* hidden = arena_.floats(hidden_);
  float* scale = arena_.floats(scale_);
  float* goodness = arena_.floats(goodness_);
  auto* labels = static_cast<int32_t*>(arena_.raw(negatives_));
  std::fill(out_scores, out_scores + rows * k, 0.0f);
  for (int64_t label = 0; label < k; ++label) {
    for (int64_t i = 0; i < b; ++i) labels[i] = static_cast<int32_t>(label);
    embed(embedded, x, labels, rows, b);
    kern::normalize_forward(Mat(normalized, b, spec_.input), scale, Mat(embedded, b, spec_.input), settings_.norm, settings_.norm_eps);
    for (int64_t l = 0; l < depth(); ++l) {
      const auto& p = layers_[l];
      ops_[l].forward_single->run(normalized, arena_.floats(p.weight), hidden, arena_.floats(p.bias), scratch);
      if (l >= first_goodness_layer()) {
        kern::goodness_forward(goodness, Mat(hidden, b, p.out), settings_.goodness_mean);
        for (int64_t i = 0; i < rows; ++i) out_scores[i * k + label] += goodness[i];
      }
      kern::normalize_forward(Mat(normalized, b, p.out), scale, Mat(hidden, b, p.out), settings_.norm, settings_.norm_eps);
    }
  }
}

double ForwardForward::flops_per_sample(Phase phase, int mode) const {
  // Matmul FLOPs only (elementwise work is not counted), per sample of the batch.
  std::vector<double> macs;
  for (const auto& p : layers_) macs.push_back(static_cast<double>(p.in) * static_cast<double>(p.out));
  const double k = spec_.classes;
  double classifier_macs = 0.0;
  for (int64_t l = first_classifier_layer(); l < depth(); ++l) classifier_macs += static_cast<double>(spec_.hidden[l]) * k;
  double neutral = 0.0;
  for (double m : macs) neutral += 2.0 * m;
  if (phase == Phase::inference) {
    if (mode == 1) return neutral + 2.0 * classifier_macs;
    double total = 2.0 * macs[0];  // the shared first-layer product
    for (size_t l = 1; l < macs.size(); ++l) total += k * 2.0 * macs[l];
    return total;
  }
  double total = 0.0;
  for (int64_t l = 0; l < depth(); ++l) {
    if (trained_layer_ >= 0 && l > trained_layer_) break;
    const bool trained = trained_layer_ < 0 || l == trained_layer_;
    total += 2.0 * 2.0 * macs[l];             // positive and negative forward
    if (trained) total += 2.0 * 2.0 * macs[l];  // weight gradient over 2B rows
  }
  // neutral pass (twice when the classifier's features are recomputed), classifier fwd + grad
  if (settings_.has_classifier) total += (settings_.keep_features ? 1.0 : 2.0) * neutral + 2.0 * 2.0 * classifier_macs;
  return total;
}

double ForwardForward::evaluate_layer(const float* x, const int32_t* labels, int64_t n, int layer) {
  only_layer_ = layer;
  const auto result = evaluate(x, labels, n, 0);
  only_layer_ = -1;
  return result.accuracy;
}

}  // namespace ffb
