// PEPITA: pass 1 h_l = ReLU(h_{l-1} W_l + b_l), e = softmax(h_{L+1}) - onehot(y); pass 2 on x + e F^T;
// dW_l = (h2_{l-1})^T (h1_l - h2_l) / B for hidden layers, dW_out = (h2_L)^T e / B.
#include "algorithms/pepita/pepita.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "algorithms/backend/kernels.hpp"
#include "algorithms/backend/parallel.hpp"

namespace ffb {


std::vector<OptionInfo> Pepita::declared_options() {
  std::vector<OptionInfo> options;
  add_optimizer_options(options, 0.1, "sgd");
  options.push_back({"feedback_scale", 0.1, "F's entries are U(-s sqrt(6/D), s sqrt(6/D)) with s this value (the paper: 0.05)",
                     0.0, 100.0, true});
  return options;
}

Pepita::Pepita(const nlohmann::json& options) : DenseAlgorithm("pepita", declared_options(), options) {
  feedback_scale_ = static_cast<float>(options_->number("feedback_scale"));
}

void Pepita::plan_layers(MemoryPlan& plan) {
  const int64_t depth = static_cast<int64_t>(spec_.hidden.size());
  const int64_t b = batch_, k = spec_.classes, d = spec_.input;
  layers_.assign(static_cast<size_t>(depth + 1), {});
  first_.clear();
  second_.clear();
  int64_t widest = k;
  for (int64_t l = 0; l <= depth; ++l) {
    const int64_t in = l == 0 ? d : spec_.hidden[l - 1], out = l == depth ? k : spec_.hidden[l];
    plan_layer(plan, layers_[l], fmt::format("layer{}", l), {.in = in, .out = out, .relu = l < depth});
    first_.push_back(plan.add_floats(fmt::format("h{}.first", l + 1), MemCategory::activations, b * out));
    second_.push_back(plan.add_floats(fmt::format("h{}.second", l + 1), MemCategory::activations, b * out));
    widest = std::max(widest, out);
  }
  feedback_ = plan.add_floats("feedback", MemCategory::weights, d * k);
  modulated_input_ = plan.add_floats("input.modulated", MemCategory::activations, b * d);
  probs_ = plan.add_floats("probs", MemCategory::activations, b * k);
  error_ = plan.add_floats("error", MemCategory::activations, b * k);
  delta_ = plan.add_floats("delta", MemCategory::activations, b * widest);
  modulate_ = &matmul_op({.m = b, .n = d, .k = k, .trans_b = true, .accumulate = true});
}

void Pepita::init_weights(Rng& rng) {
  DenseAlgorithm::init_weights(rng);
  const float bound = feedback_scale_ * std::sqrt(6.0f / static_cast<float>(spec_.input));
  float* f = arena_.floats(feedback_);
  for (int64_t i = 0; i < spec_.input * spec_.classes; ++i) f[i] = bound * (2.0f * rng.uniform() - 1.0f);
}

void Pepita::forward(const float* input, const std::vector<BufferId>& acts, bool training) {
  void* scratch = scratchpad();
  for (size_t l = 0; l < layers_.size(); ++l) {
    arena_.mark_live(acts[l]);
    float* out = arena_.floats(acts[l]);
    if (training)
      layers_[l].forward_train(arena_, input, out, scratch);
    else
      layers_[l].forward(arena_, input, out, scratch);
    input = out;
  }
}

StepStats Pepita::step(const float* x, const int32_t* labels) {
  const int64_t b = batch_, d = spec_.input;
  const int64_t depth = static_cast<int64_t>(layers_.size()) - 1;
  void* scratch = scratchpad();
  StepStats stats = begin_step();
  stats.layers = 0;  // one end-to-end loss
  // Pass 1, and the output error e = softmax - onehot (B x K).
  forward(x, first_, true);
  stats.loss = cross_entropy(first_[depth], probs_, error_, labels, 1.0f);
  const float* e = arena_.floats(error_);
  // Pass 2 on x + e F^T.
  arena_.mark_live(modulated_input_);
  float* modulated = arena_.floats(modulated_input_);
  std::memcpy(modulated, x, static_cast<size_t>(b * d) * sizeof(float));
  modulate_->run(e, arena_.floats(feedback_), modulated, nullptr, scratch);
  forward(modulated, second_, true);
  // Updates, from the top: the output layer takes e, a hidden layer h1_l - h2_l (no derivative: the
  // rule is not a gradient); each layer's input is its input in the modulated pass.
  arena_.mark_live(delta_);
  float* delta = arena_.floats(delta_);
  const float inverse_batch = 1.0f / static_cast<float>(b);
  for (int64_t l = depth; l >= 0; --l) {
    const int64_t out = layers_[l].out();
    const float* h1 = l == depth ? e : arena_.floats(first_[l]);
    const float* h2 = l == depth ? nullptr : arena_.floats(second_[l]);
    parallel_for(
        b * out, [&](int64_t i) { delta[i] = (h2 == nullptr ? h1[i] : h1[i] - h2[i]) * inverse_batch; }, b * out > 65536);
    const float* layer_input = l == 0 ? modulated : arena_.floats(second_[l - 1]);
    layers_[l].backward(arena_, layer_input, delta, nullptr, scratch);
    update(layers_[l]);
    arena_.mark_dead(first_[l]);
    arena_.mark_dead(second_[l]);
  }
  arena_.mark_dead(delta_);
  arena_.mark_dead(error_);
  arena_.mark_dead(modulated_input_);
  return stats;
}

void Pepita::scores(const float* x, int64_t rows, int mode, float* out_scores) {
  (void)mode;
  forward(padded_input(x, rows), first_, false);
  std::memcpy(out_scores, arena_.floats(first_.back()), static_cast<size_t>(rows * spec_.classes) * sizeof(float));
}

double Pepita::flops_per_sample(Phase phase, int mode) const {
  (void)mode;
  double forward = 0.0;
  for (const auto& layer : layers_) forward += 2.0 * layer.macs();
  if (phase == Phase::inference) return forward;
  // Two forward passes, every dW, and the modulation e F^T.
  return 3.0 * forward + 2.0 * static_cast<double>(spec_.input) * static_cast<double>(spec_.classes);
}

}  // namespace ffb
