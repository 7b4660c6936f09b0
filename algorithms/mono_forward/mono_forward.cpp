// Mono-Forward: a_l = ReLU(a_{l-1} W_l + b_l) on a detached a_{l-1}; G_l = a_l M_l; loss_l = CE(G_l, y);
// W_l and M_l follow the gradient of loss_l alone.
#include "algorithms/mono_forward/mono_forward.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "algorithms/backend/kernels.hpp"

namespace ffb {


std::vector<OptionInfo> MonoForward::declared_options() {
  std::vector<OptionInfo> options;
  add_optimizer_options(options, 0.001, "adam");
  return options;
}

MonoForward::MonoForward(const nlohmann::json& options) : DenseAlgorithm("mono_forward", declared_options(), options) {}

void MonoForward::plan_layers(MemoryPlan& plan) {
  const int64_t depth = static_cast<int64_t>(spec_.hidden.size());
  const int64_t b = batch_, k = spec_.classes;
  const int64_t widest = plan_hidden_layers(plan);
  projections_.assign(static_cast<size_t>(depth), {});
  for (int64_t l = 0; l < depth; ++l)
    plan_layer(plan, projections_[l], fmt::format("projection{}", l), {.in = spec_.hidden[l], .out = k, .input_grad = true});
  act_a_ = plan.add_floats("act.a", MemCategory::activations, b * widest);
  act_b_ = plan.add_floats("act.b", MemCategory::activations, b * widest);
  act_grad_ = plan.add_floats("act.grad", MemCategory::activations, b * widest);
  logits_ = plan.add_floats("scores.layer", MemCategory::activations, b * k);
  probs_ = plan.add_floats("probs", MemCategory::activations, b * k);
  logits_grad_ = plan.add_floats("scores.grad", MemCategory::activations, b * k);
}

StepStats MonoForward::step(const float* x, const int32_t* labels) {
  const int64_t b = batch_;
  const int64_t depth = static_cast<int64_t>(layers_.size());
  void* scratch = scratchpad();
  StepStats stats = begin_step();
  const float* input = x;
  BufferId out_id = act_a_, other_id = act_b_;
  for (int64_t l = 0; l < depth; ++l) {
    const int64_t h = spec_.hidden[l];
    float* a = arena_.floats(out_id);
    arena_.mark_live(out_id);
    layers_[l].forward_train(arena_, input, a, scratch);
    arena_.mark_live(logits_);
    projections_[l].forward_train(arena_, a, arena_.floats(logits_), scratch);
    const float loss = cross_entropy(logits_, probs_, logits_grad_, labels);
    stats.layer_loss[l] = loss;
    stats.loss += loss / static_cast<double>(depth);
    // No goodness here: the diagnostic slot holds the layer's activity, the mean over the batch of sum_j a_j^2.
    double activity = 0.0;
    for (int64_t i = 0; i < b * h; ++i) activity += static_cast<double>(a[i]) * a[i];
    stats.goodness_pos[l] = static_cast<float>(activity / static_cast<double>(b));
    // dM = a^T dG, and da = dG M^T (before M's update); dz = da * (a > 0); dW = a_{l-1}^T dz.
    arena_.mark_live(act_grad_);
    float* da = arena_.floats(act_grad_);
    projections_[l].backward(arena_, a, arena_.floats(logits_grad_), da, scratch);
    arena_.mark_dead(logits_grad_);
    kern::relu_backward(Mat(da, b, h), Mat(da, b, h), Mat(a, b, h));
    layers_[l].backward(arena_, input, da, nullptr, scratch);
    arena_.mark_dead(act_grad_);
    update(projections_[l]);
    update(layers_[l]);
    if (l > 0) arena_.mark_dead(other_id);  // a_{l-1} is no longer needed
    input = a;
    std::swap(out_id, other_id);
  }
  arena_.mark_dead(other_id);
  return stats;
}

void MonoForward::scores(const float* x, int64_t rows, int mode, float* out_scores) {
  const int64_t b = batch_, k = spec_.classes;
  const int64_t depth = static_cast<int64_t>(layers_.size());
  const bool sum = mode == 1;
  void* scratch = scratchpad();
  const float* input = padded_input(x, rows);
  float* total = arena_.floats(probs_);
  if (sum) std::memset(total, 0, static_cast<size_t>(b * k) * sizeof(float));
  BufferId out_id = act_a_, other_id = act_b_;
  for (int64_t l = 0; l < depth; ++l) {
    float* a = arena_.floats(out_id);
    layers_[l].forward(arena_, input, a, scratch);
    if (sum || l == depth - 1) {
      projections_[l].forward(arena_, a, arena_.floats(logits_), scratch);
      if (sum)
        for (int64_t i = 0; i < b * k; ++i) total[i] += arena_.floats(logits_)[i];
    }
    input = a;
    std::swap(out_id, other_id);
  }
  std::memcpy(out_scores, sum ? total : arena_.floats(logits_), static_cast<size_t>(rows * k) * sizeof(float));
}

double MonoForward::flops_per_sample(Phase phase, int mode) const {
  double layers = 0.0, projections = 0.0;
  for (size_t l = 0; l < layers_.size(); ++l) {
    layers += 2.0 * layers_[l].macs();
    projections += 2.0 * projections_[l].macs();
  }
  if (phase == Phase::train) return 2.0 * layers + 3.0 * projections;  // W: forward, dW; M: forward, dM, da
  if (mode == 1) return layers + projections;
  return layers + 2.0 * projections_.back().macs();
}

}  // namespace ffb
