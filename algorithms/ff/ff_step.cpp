// Forward-Forward's training step (ff.hpp): the neutral pass and the classifier, the negatives, the
// layers under the simultaneous, layer-wise and pipelined schedules, peer normalisation.
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

void ForwardForward::neutral_forward(const float* x, bool gradient, bool inference) {
  // gradient == false: the neutral pass, with the classifier's logits (B x K) summed over its
  // layers. gradient == true (classifier_features "recompute", after the logits' gradient is known):
  // the same pass again, each layer's activity feeding its share of the classifier's weight
  // gradient as soon as it exists, so only one layer's activity is ever held.
  const int64_t b = batch_;
  void* scratch = arena_.raw(scratchpad_);
  float* normalized = arena_.floats(normalized_a_);
  float* scale = arena_.floats(scale_);
  arena_.mark_live(normalized_a_);
  arena_.mark_live(hidden_);
  if (settings_.has_classifier) classifier_.begin_pass(arena_, gradient);
  embed_normalized(normalized, scale, x, b, nullptr, nullptr);
  const float* input = normalized;
  for (int64_t l = 0; l < depth(); ++l) {
    const auto& p = layers_[l];
    float* hidden = arena_.floats(hidden_);
    if (inference)
      packed_weights_[l].run(arena_, ops_[l].infer_single, input, arena_.floats(p.weight), hidden, arena_.floats(p.bias),
                             scratch, weights_version());
    else
      ops_[l].forward_single->run(input, arena_.floats(p.weight), hidden, arena_.floats(p.bias), scratch);
    float* next = settings_.has_classifier ? classifier_.activity_buffer(arena_, l) : nullptr;
    if (next == nullptr) {
      next = arena_.floats(input == arena_.floats(normalized_a_) ? normalized_b_ : normalized_a_);
      arena_.mark_live(normalized_b_);
    }
    kern::normalize_forward(Mat(next, b, p.out), scale, Mat(hidden, b, p.out), settings_.norm, settings_.norm_eps);
    if (settings_.has_classifier) classifier_.add_layer(arena_, l, next, gradient, scratch);
    input = next;
  }
  arena_.mark_dead(hidden_);
  arena_.mark_dead(normalized_b_);
}

void ForwardForward::train_classifier(const float* x, const int32_t* labels, StepStats& stats) {
  stats.classifier_loss = classifier_.loss(arena_, labels);
  if (classifier_.keeps_features())
    classifier_.weight_gradient_from_kept(arena_, arena_.raw(scratchpad_));
  else
    neutral_forward(x, true);
  classifier_.bias_gradient(arena_);
  average_gradients(classifier_.weight_grad(arena_), classifier_.params().in * spec_.classes);
  average_gradients(classifier_.bias_grad(arena_), spec_.classes);
  classifier_.update(arena_, step_);
}

void ForwardForward::choose_negatives(const int32_t* labels) {
  const int64_t b = batch_, k = spec_.classes;
  auto* negatives = static_cast<int32_t*>(arena_.raw(negatives_));
  // Data mode, for the random samplers: every rank draws for the whole global batch and keeps its
  // slice's draws, so the ranks together draw what one process with the whole batch would.
  const bool sliced = mode_ == DistributedMode::data;
  const int64_t offset = sliced ? b * comm_->rank() : 0, global = sliced ? b * comm_->size() : b;
  if (!settings_.hard_negatives) {
    // Uniform over the K-1 wrong labels: shift the true label by 1..K-1, never by 0.
    for (int64_t i = 0; i < global; ++i) {
      const auto shift = static_cast<int64_t>(negative_rng_.below(k - 1));
      if (i >= offset && i < offset + b) negatives[i - offset] = static_cast<int32_t>((labels[i - offset] + 1 + shift) % k);
    }
    return;
  }
  const float* probs = classifier_.probabilities(arena_);
  if (settings_.sampled_negatives) {
    // A wrong label drawn in proportion to the classifier's probability of it: one uniform number per
    // row of the global batch.
    for (int64_t g = 0; g < global; ++g) {
      const float u = negative_rng_.uniform();
      if (g < offset || g >= offset + b) continue;
      const int64_t i = g - offset;
      const float* p = probs + i * k;
      float wrong = 0.0f;
      for (int32_t c = 0; c < k; ++c)
        if (c != labels[i]) wrong += p[c];
      const float target = u * wrong;
      int32_t pick = -1;
      float running = 0.0f;
      for (int32_t c = 0; c < k && pick < 0; ++c) {
        if (c == labels[i]) continue;
        running += p[c];
        if (running > target) pick = c;
      }
      if (pick < 0) pick = labels[i] == k - 1 ? static_cast<int32_t>(k - 2) : static_cast<int32_t>(k - 1);  // rounding at the top
      negatives[i] = pick;
    }
    classifier_.probabilities_used(arena_);
    return;
  }
  for (int64_t i = 0; i < b; ++i) {
    int32_t best = -1;
    for (int32_t c = 0; c < k; ++c)
      if (c != labels[i] && (best < 0 || probs[i * k + c] > probs[i * k + best])) best = c;
    negatives[i] = best;
  }
  classifier_.probabilities_used(arena_);
}

const int32_t* ForwardForward::last_negative_labels() const { return static_cast<const int32_t*>(arena_.raw(negatives_)); }

double ForwardForward::pair_loss(const float* g, float* dg, int64_t b, int64_t width) const {
  const float theta = static_cast<float>(layer_threshold(width));
  const float inv = 1.0f / static_cast<float>(2 * b);
  for (int64_t i = 0; i < 2 * b; ++i) dg[i] = pair_row_grad(g[i], i < b, theta, inv);
  return pair_loss_value(g, b, width);
}

double ForwardForward::pair_loss_value(const float* g, int64_t b, int64_t width) const {
  const float theta = static_cast<float>(layer_threshold(width));
  const float inv = 1.0f / static_cast<float>(2 * b);
  double total = 0.0;
  for (int64_t i = 0; i < 2 * b; ++i) total += kern::softplus(pair_row_margin(g[i], i < b, theta));
  return total * inv;
}

StepStats ForwardForward::step(const float* x, const int32_t* labels) {
  const int64_t b = batch_;
  StepStats stats;
  stats.samples = b;
  stats.layers = static_cast<int>(depth());
  arena_.reset_live();
  ++step_;
  if (settings_.layerwise && settings_.layer_steps > 0) trained_layer_ = std::min<int64_t>(depth() - 1, (step_ - 1) / settings_.layer_steps);

  if (owned_first_ > 0) {  // distributed pipeline, a later block: its input comes from the rank before
    boundary_before_step();
    stats.loss = schedule_->pass(nullptr, stats);
    boundary_after_step();
    phases_.lap(kPipelined);
    return stats;
  }
  if (settings_.has_classifier) {
    neutral_forward(x, false);
    phases_.lap(kNeutral);
    train_classifier(x, labels, stats);
    phases_.lap(kClassifier);
  }
  choose_negatives(labels);
  phases_.lap(kNegatives);
  // The pair's input (positives, then the same images with their negative labels), embedded and
  // normalised in one pass per row.
  BufferId current = normalized_a_, next = normalized_b_;
  arena_.mark_live(current);
  embed_normalized(arena_.floats(current), arena_.floats(scale_), x, b, labels, static_cast<const int32_t*>(arena_.raw(negatives_)));
  phases_.lap(kInputs);
  double total_loss = 0.0;
  if (settings_.pipelined) {
    boundary_before_step();
    total_loss = schedule_->pass(arena_.floats(current), stats);
    boundary_after_step();
    phases_.lap(kPipelined);
    arena_.mark_dead(current);
    stats.loss = total_loss;
    return stats;
  }
  for (int64_t l = 0; l < depth(); ++l) {
    if (trained_layer_ >= 0 && l > trained_layer_) break;
    const bool train_this = trained_layer_ < 0 || l == trained_layer_;
    const bool feeds_next = l + 1 < depth() && (trained_layer_ < 0 || l < trained_layer_);
    arena_.mark_live(hidden_);
    shared_buffers_.input.mark_live(arena_);
    if (train_this) shared_buffers_.grad.mark_live(arena_);
    if (feeds_next) arena_.mark_live(next);
    total_loss += layer_pass(l, shared_buffers_, {ops_[l].forward_pair, ops_[l].weight_grad}, arena_.floats(current),
                             feeds_next ? arena_.floats(next) : nullptr, train_this, stats);
    arena_.mark_dead(hidden_);
    arena_.mark_dead(current);
    std::swap(current, next);
  }
  arena_.mark_dead(current);
  stats.loss = total_loss;
  return stats;
}

double ForwardForward::layer_pass(int64_t l, const LayerBuffers& buffers, const TrainProducts& products, const float* input,
                                  float* next, bool train, StepStats& stats) {
  const LayerWork work = layer_forward(l, buffers, *products.forward, input, train);
  goodness_and_next(work, next);
  if (!train) return 0.0;
  const float* peer = nullptr;
  const double loss = layer_loss(work, stats, peer);
  loss_gradient(work, peer);
  layer_update(work, *products.weight_grad);
  return loss;
}

ForwardForward::LayerWork ForwardForward::layer_forward(int64_t l, const LayerBuffers& buffers, const Matmul& forward,
                                                        const float* input, bool train) {
  const auto& p = layers_[l];
  LayerWork work{l, p, buffers, arena_.raw(buffers.scratch), arena_.floats(buffers.hidden), nullptr, train,
                 train && settings_.peer_normalization <= 0.0f && row_local_loss()};
  work.input = buffers.input.prepare(arena_, input, 2 * batch_ * p.in);
  forward.run(work.input, p.matmul_weight(arena_), work.hidden, arena_.floats(p.bias), work.scratch);
  phases_.lap(kForward);
  return work;
}

void ForwardForward::goodness_and_next(const LayerWork& work, float* next) {
  // Between the two GEMMs, two parallel regions instead of one per kernel. (1) Here, per row, one
  // sum of squares gives the goodness and the next layer's normalised input; where each row's loss
  // gradient depends on that row alone (FF's pair loss, no peer normalisation: `fused`), the same
  // pass also writes dLoss/dg and dLoss/dz over h, so h is read once. Then (layer_loss), on one
  // thread, the pair loss and its statistics. (2) In loss_gradient, per row dLoss/dz over h (when
  // not fused), then per column block the bias gradient. Each value is computed by the same
  // expressions in the same order as the separate kernels (normalize_forward, goodness_forward,
  // pair_loss, bias_grad_accumulate), so the results are the same bits.
  const int64_t b = batch_, b2 = 2 * batch_, width = work.p.out;
  float* hidden = work.hidden;
  float* goodness = arena_.floats(work.buffers.goodness);
  float* goodness_grad = arena_.floats(work.buffers.goodness_grad);
  float* scale = arena_.floats(work.buffers.scale);
  const float norm_c = settings_.norm == kern::NormKind::l2 ? 1.0f : 1.0f / static_cast<float>(width);
  const float good_c = settings_.goodness_mean ? 1.0f / static_cast<float>(width) : 1.0f;
  const float eps = settings_.norm_eps;
  const bool train = work.train, fused = work.fused;
  const float theta = static_cast<float>(layer_threshold(width));
  const float inv = 1.0f / static_cast<float>(b2);
  const float c = goodness_derivative(width);
  parallel_for(b2, [&](int64_t r) {
    float* row = hidden + r * width;
    const float sum = kern::row_sum_squares(row, width);
    if (train) goodness[r] = good_c * sum;
    float factor = 0.0f;
    if (fused) {
      goodness_grad[r] = pair_row_grad(goodness[r], r < b, theta, inv);
      factor = c * goodness_grad[r];
    }
    if (next != nullptr) {
      const float s = kern::norm_scale(sum, norm_c, eps);
      scale[r] = s;
      float* out = next + r * width;
      if (fused) {
#pragma omp simd
        for (int64_t j = 0; j < width; ++j) {
          const float value = row[j];
          out[j] = value * s;
          row[j] = factor * value;
        }
      } else {
#pragma omp simd
        for (int64_t j = 0; j < width; ++j) out[j] = row[j] * s;
      }
    } else if (fused) {
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) row[j] = factor * row[j];
    }
  });
  phases_.lap(kGoodness);
}

double ForwardForward::layer_loss(const LayerWork& work, StepStats& stats, const float*& peer) {
  const int64_t b = batch_, l = work.l, width = work.p.out;
  float* goodness = arena_.floats(work.buffers.goodness);
  const double loss = work.fused ? pair_loss_value(goodness, b, width)
                                 : pair_loss(goodness, arena_.floats(work.buffers.goodness_grad), b, width);
  double pos = 0.0, neg = 0.0;
  for (int64_t i = 0; i < b; ++i) {
    pos += goodness[i];
    neg += goodness[b + i];
  }
  stats.goodness_pos[l] = static_cast<float>(pos / static_cast<double>(b));
  stats.goodness_neg[l] = static_cast<float>(neg / static_cast<double>(b));
  stats.layer_loss[l] = static_cast<float>(loss);
  if (settings_.peer_normalization > 0.0f) {
    float* coefficients = arena_.floats(work.buffers.peer);
    stats.layer_loss[l] += static_cast<float>(peer_normalization_step(l, Mat(work.hidden, 2 * b, width), coefficients));
    peer = coefficients;
  }
  phases_.lap(kLoss);
  return loss;
}

void ForwardForward::loss_gradient(const LayerWork& work, const float* peer) {
  // dLoss/dz, written over h: dg * d(goodness)/dh, zero where ReLU was off (h = 0 there).
  const int64_t b = batch_, b2 = 2 * batch_, width = work.p.out;
  float* hidden = work.hidden;
  const float* goodness_grad = arena_.floats(work.buffers.goodness_grad);
  const float c = goodness_derivative(width);
  float* bias_grad = arena_.floats(work.p.bias_grad);
  constexpr int64_t block = 64;
  const int64_t blocks = (width + block - 1) / block;
  const auto grad_row = [&](int64_t r) {
    float* row = hidden + r * width;
    const float factor = c * goodness_grad[r];
    const bool positive = r < b && peer != nullptr;
    for (int64_t j = 0; j < width; ++j) {
      const float value = row[j];
      float grad = factor * value;
      if (positive && value > 0.0f) grad += peer[j];
      row[j] = grad;
    }
  };
  const auto bias_block = [&](int64_t blk) {  // bias_grad_accumulate's order, onto zero
    const int64_t begin = blk * block, end = std::min(width, begin + block);
    float acc[block] = {};
    for (int64_t r = 0; r < b2; ++r) {
      const float* row = hidden + r * width;
#pragma omp simd
      for (int64_t n = begin; n < end; ++n) acc[n - begin] += row[n];
    }
    for (int64_t n = begin; n < end; ++n) bias_grad[n] = 0.0f + acc[n - begin];
  };
  // One region for both loops (the rows, then the column blocks: a barrier between), or both in
  // order on this thread where a region would run alone.
  const bool fused = work.fused;
  if (region_runs_alone()) {
    if (!fused)
      for (int64_t r = 0; r < b2; ++r) grad_row(r);
    for (int64_t blk = 0; blk < blocks; ++blk) bias_block(blk);
  } else {
#pragma omp parallel
    {
      if (!fused) {
#pragma omp for schedule(static)
        for (int64_t r = 0; r < b2; ++r) grad_row(r);
      }
#pragma omp for schedule(static)
      for (int64_t blk = 0; blk < blocks; ++blk) bias_block(blk);
    }
  }
  phases_.lap(kBiasGrad);
}

void ForwardForward::layer_update(const LayerWork& work, const Matmul& weight_grad) {
  const auto& p = work.p;
  const void* grad_matmul = work.buffers.grad.prepare(arena_, work.hidden, 2 * batch_ * p.out);
  weight_grad.run(work.input, grad_matmul, arena_.floats(p.weight_grad), nullptr, work.scratch);
  phases_.lap(kWeightGrad);
  average_gradients(arena_.floats(p.weight_grad), p.in * p.out);  // data mode: the ranks' mean
  average_gradients(arena_.floats(p.bias_grad), p.out);
  p.update(arena_, optimizer_, step_);
  p.refresh_bf16(arena_);
  phases_.lap(kUpdate);
}

double ForwardForward::peer_normalization_step(int64_t l, const Mat& h, float* coefficients) {
  // Peer normalisation (matlab code; loeweX): a running mean r_j of each unit's activity on positive
  // data, and a loss peer * mean_j (mean(r) - r_j)^2 that pulls every unit toward the average. Its
  // gradient reaches h through this step's share (1 - momentum) / B of the running mean.
  constexpr float momentum = 0.9f;
  const int64_t b = batch_, width = h.cols;
  float* running = arena_.floats(peer_means_[l]);
  std::fill(coefficients, coefficients + width, 0.0f);
  kern::bias_grad_accumulate(coefficients, h.first_rows(b));  // column sums of the positive rows
  // Data mode: the running mean follows the whole global batch's mean activity (as one process's
  // would); the gradient below stays this rank's share, averaged with the others' afterwards.
  float rows = static_cast<float>(b);
  if (mode_ == DistributedMode::data && comm_->size() > 1) {
    comm_->allreduce_sum(coefficients, width);
    rows *= static_cast<float>(comm_->size());
  }
  double mean = 0.0;
  for (int64_t j = 0; j < width; ++j) {
    running[j] = momentum * running[j] + (1.0f - momentum) * coefficients[j] / rows;
    mean += running[j];
  }
  mean /= static_cast<double>(width);
  double loss = 0.0;
  const float scale = settings_.peer_normalization * 2.0f / static_cast<float>(width) * (1.0f - momentum) / static_cast<float>(b);
  for (int64_t j = 0; j < width; ++j) {
    const double deviation = running[j] - mean;
    loss += deviation * deviation;
    coefficients[j] = scale * static_cast<float>(deviation);
  }
  return settings_.peer_normalization * loss / static_cast<double>(width);
}

}  // namespace ffb
