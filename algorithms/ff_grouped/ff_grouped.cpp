// Class-grouped goodness: a_l = ReLU(x_l W_l + b_l); g_c = scale * mean_{j in group c} a_j; loss_l =
// CE(g, y); x_{l+1} = a_l with each group divided by its RMS (detached).
#include "algorithms/ff_grouped/ff_grouped.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "algorithms/backend/kernels.hpp"
#include "algorithms/backend/parallel.hpp"

namespace ffb {

namespace {
constexpr float kNormEps = 1e-6f;

}  // namespace


std::vector<OptionInfo> FFGrouped::declared_options() {
  std::vector<OptionInfo> options;
  add_optimizer_options(options, 0.001, "adam");
  options.push_back({"scale", 30.0, "goodness scale: class scores are scale x the group's mean activity (an inverse temperature)",
                     0.0, 1e6, true});
  return options;
}

FFGrouped::FFGrouped(const nlohmann::json& options) : DenseAlgorithm("ff_grouped", declared_options(), options) {
  scale_ = static_cast<float>(options_->number("scale"));
}

void FFGrouped::plan_layers(MemoryPlan& plan) {
  const int64_t b = batch_, k = spec_.classes;
  for (auto h : spec_.hidden)
    if (h < k)
      throw std::invalid_argument(fmt::format("ff_grouped: impossible model {}: every hidden layer needs at least one unit per "
                                              "class ({}), got {}", spec_.describe(), k, h));
  const int64_t widest = plan_hidden_layers(plan);
  act_ = plan.add_floats("act", MemCategory::activations, b * widest);
  act_grad_ = plan.add_floats("act.grad", MemCategory::activations, b * widest);
  normalized_a_ = plan.add_floats("normalized.a", MemCategory::activations, b * widest);
  normalized_b_ = plan.add_floats("normalized.b", MemCategory::activations, b * widest);
  goodness_ = plan.add_floats("goodness", MemCategory::activations, b * k);
  probs_ = plan.add_floats("probs", MemCategory::activations, b * k);
  goodness_grad_ = plan.add_floats("goodness.grad", MemCategory::activations, b * k);
}

// The three group loops below are written out (not through one visitor): a lambda visitor cost 3 % more
// of ff_grouped's non-GEMM instructions (the regression check's count, 2026-11-28).
void FFGrouped::group_goodness(float* g, const float* a, int64_t h) const {
  const int64_t b = batch_, k = spec_.classes;
  parallel_for(
      b,
      [&](int64_t r) {
        for (int64_t c = 0; c < k; ++c) {
          const int64_t start = group_start(c, h, k), end = group_start(c + 1, h, k);
          float sum = 0.0f;
          for (int64_t j = start; j < end; ++j) sum += a[r * h + j];
          g[r * k + c] = scale_ * sum / static_cast<float>(end - start);
        }
      },
      b * h > 65536);
}

void FFGrouped::group_normalize(float* next, const float* a, int64_t h) const {
  const int64_t b = batch_, k = spec_.classes;
  parallel_for(
      b,
      [&](int64_t r) {
        for (int64_t c = 0; c < k; ++c) {
          const int64_t start = group_start(c, h, k), end = group_start(c + 1, h, k);
          float squares = 0.0f;
          for (int64_t j = start; j < end; ++j) squares += a[r * h + j] * a[r * h + j];
          const float inverse = 1.0f / (std::sqrt(squares / static_cast<float>(end - start)) + kNormEps);
          for (int64_t j = start; j < end; ++j) next[r * h + j] = a[r * h + j] * inverse;
        }
      },
      b * h > 65536);
}

StepStats FFGrouped::step(const float* x, const int32_t* labels) {
  const int64_t b = batch_, k = spec_.classes;
  const int64_t depth = static_cast<int64_t>(layers_.size());
  void* scratch = scratchpad();
  StepStats stats = begin_step();
  const float* input = x;
  BufferId next_id = normalized_a_, other_id = normalized_b_;
  for (int64_t l = 0; l < depth; ++l) {
    const int64_t h = spec_.hidden[l];
    float* a = arena_.floats(act_);
    arena_.mark_live(act_);
    layers_[l].forward_train(arena_, input, a, scratch);
    arena_.mark_live(goodness_);
    group_goodness(arena_.floats(goodness_), a, h);
    const float loss = cross_entropy(goodness_, probs_, goodness_grad_, labels);
    stats.layer_loss[l] = loss;
    stats.loss += loss / static_cast<double>(depth);
    // Goodness diagnostics: the true class's group (positive) against the mean of the others (negative).
    const float* g = arena_.floats(goodness_);
    double own = 0.0, others = 0.0;
    for (int64_t r = 0; r < b; ++r)
      for (int64_t c = 0; c < k; ++c) (c == labels[r] ? own : others) += g[r * k + c];
    stats.goodness_pos[l] = static_cast<float>(own / static_cast<double>(b));
    stats.goodness_neg[l] = static_cast<float>(others / static_cast<double>(b * (k - 1)));
    const float* dg = arena_.floats(goodness_grad_);
    // da_j = scale dg_c / |group c| for j in group c; dz = da * (a > 0).
    arena_.mark_live(act_grad_);
    float* dz = arena_.floats(act_grad_);
    parallel_for(
        b,
        [&](int64_t r) {
          for (int64_t c = 0; c < k; ++c) {
            const int64_t start = group_start(c, h, k), end = group_start(c + 1, h, k);
            const float share = scale_ * dg[r * k + c] / static_cast<float>(end - start);
            for (int64_t j = start; j < end; ++j) dz[r * h + j] = a[r * h + j] > 0.0f ? share : 0.0f;
          }
        },
        b * h > 65536);
    arena_.mark_dead(goodness_grad_);
    layers_[l].backward(arena_, input, dz, nullptr, scratch);
    arena_.mark_dead(act_grad_);
    update(layers_[l]);
    if (l + 1 < depth) {
      arena_.mark_live(next_id);
      group_normalize(arena_.floats(next_id), a, h);
      if (l > 0) arena_.mark_dead(other_id);
      input = arena_.floats(next_id);
      std::swap(next_id, other_id);
    }
    arena_.mark_dead(act_);
  }
  if (depth > 1) arena_.mark_dead(other_id);
  return stats;
}

void FFGrouped::scores(const float* x, int64_t rows, int mode, float* out_scores) {
  (void)mode;
  const int64_t b = batch_, k = spec_.classes;
  const int64_t depth = static_cast<int64_t>(layers_.size());
  void* scratch = scratchpad();
  const float* input = padded_input(x, rows);
  float* total = arena_.floats(probs_);
  float* g = arena_.floats(goodness_);
  std::memset(total, 0, static_cast<size_t>(b * k) * sizeof(float));
  BufferId next_id = normalized_a_, other_id = normalized_b_;
  for (int64_t l = 0; l < depth; ++l) {
    const int64_t h = spec_.hidden[l];
    float* a = arena_.floats(act_);
    layers_[l].forward(arena_, input, a, scratch);
    group_goodness(g, a, h);
    for (int64_t i = 0; i < b * k; ++i) total[i] += g[i];
    if (l + 1 < depth) {
      group_normalize(arena_.floats(next_id), a, h);
      input = arena_.floats(next_id);
      std::swap(next_id, other_id);
    }
  }
  std::memcpy(out_scores, total, static_cast<size_t>(rows * k) * sizeof(float));
}

double FFGrouped::flops_per_sample(Phase phase, int mode) const {
  (void)mode;
  double forward = 0.0;
  for (const auto& layer : layers_) forward += 2.0 * layer.macs();
  return phase == Phase::train ? 2.0 * forward : forward;  // forward and dW per layer; no input gradients
}

}  // namespace ffb
