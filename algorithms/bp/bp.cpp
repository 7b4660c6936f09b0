// Backprop: forward with fused bias+ReLU matmuls, backward dW = a^T dz, dx = dz W^T, ReLU mask.
#include "algorithms/bp/bp.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "algorithms/backend/kernels.hpp"

namespace ffb {

std::vector<OptionInfo> Backprop::declared_options() {
  std::vector<OptionInfo> options;
  // The tuned defaults: the best of the equal-budget search (bench/suites/tune.json; evidence in README.md).
  add_optimizer_options(options, 0.00105, "adam");
  for (auto& option : options)
    if (option.name == "weight_decay") option.default_value = 0.0001;
  return options;
}

Backprop::Backprop(const nlohmann::json& options, const std::string& name)
    : Algorithm(std::make_unique<Options>(name, declared_options(), options)), name_(name) {
  optimizer_ = optimizer_from(*options_);
  base_lr_ = optimizer_.lr;
  lr_decay_start_ = options_->integer("lr_decay_start");
  bf16_ = bf16_precision(*options_);
}

void Backprop::begin_epoch(int64_t epoch, int64_t total_epochs) {
  optimizer_.lr = static_cast<float>(base_lr_ * lr_decay_factor(lr_decay_start_, epoch, total_epochs));
}

void Backprop::weights_changed() {
  for (const auto& p : layers_) p.refresh_bf16(arena_);
}

void Backprop::plan_buffers(MemoryPlan& plan) {
  phases_.define({"forward products (bias and ReLU fused)", "softmax loss and its gradient", "weight-gradient products (and the output bias gradient)",
                  "error products (dLoss/dx)", "ReLU backward and bias gradient", "update"});
  const auto& spec = spec_;
  const int64_t depth = static_cast<int64_t>(spec.hidden.size());
  const int64_t b = batch_;
  layers_.assign(depth + 1, {});
  int64_t widest = spec.classes;
  for (int64_t l = 0; l <= depth; ++l) {
    const int64_t in = l == 0 ? spec.input : spec.hidden[l - 1];
    const int64_t out = l == depth ? spec.classes : spec.hidden[l];
    layers_[l].plan(plan, fmt::format("layer{}", l), in, out, optimizer_.kind);
    widest = std::max(widest, out);
  }
  activations_.clear();
  for (int64_t l = 0; l < depth; ++l)
    activations_.push_back(plan.add_floats(fmt::format("a{}", l + 1), MemCategory::activations, b * spec.hidden[l]));
  logits_ = plan.add_floats("logits", MemCategory::activations, b * spec.classes);
  probs_ = plan.add_floats("probs", MemCategory::activations, b * spec.classes);
  grad_a_ = plan.add_floats("grad.a", MemCategory::activations, b * widest);
  grad_b_ = plan.add_floats("grad.b", MemCategory::activations, b * widest);
  input_operand_.plan(plan, "input.bf16", b * spec.input, bf16_);
  activation_operands_.assign(static_cast<size_t>(depth), MatmulOperand{});
  for (int64_t l = 0; l < depth; ++l)
    activation_operands_[l].plan(plan, fmt::format("a{}.bf16", l + 1), b * spec.hidden[l], bf16_);
  grad_operand_.plan(plan, "grad.bf16", b * widest, bf16_);
  if (bf16_) {
    for (int64_t l = 0; l <= depth; ++l) layers_[l].plan_bf16(plan, fmt::format("layer{}", l));
  }

  ops_.clear();
  packed_weights_.clear();
  for (int64_t l = 0; l <= depth; ++l) {
    const auto& p = layers_[l];
    MatmulShape fwd{.m = b, .n = p.out, .k = p.in, .bias = true, .relu = l < depth};
    MatmulShape train_fwd{.m = b, .n = p.out, .k = p.in, .bias = true, .relu = l < depth, .bf16 = bf16_};
    MatmulShape dw{.m = p.in, .n = p.out, .k = b, .trans_a = true, .bf16 = bf16_};
    MatmulShape dx{.m = b, .n = p.in, .k = p.out, .trans_b = true, .bf16 = bf16_};
    int64_t packed_bytes = 0;
    ops_.push_back({inference_op(fwd, packed_bytes), &matmul_op(dw), l > 0 ? &matmul_op(dx) : nullptr, &matmul_op(train_fwd)});
    packed_weights_.push_back(plan_packed_weights(plan, fmt::format("layer{}.weight.packed", l), packed_bytes));
  }
  plan_feedback(plan);
}

void Backprop::init_weights(Rng& rng) {
  for (const auto& p : layers_) p.init(arena_, rng);
  init_feedback(rng);
  step_ = 0;
}

void Backprop::propagate_error(int64_t l, const void* dz, float* dx) {
  const auto& p = layers_[l];
  ops_[l].input_grad->run(dz, p.matmul_weight(arena_), dx, nullptr, scratchpad());
}

double Backprop::propagation_flops() const {
  double flops = 0.0;
  for (size_t l = 1; l < layers_.size(); ++l)
    flops += 2.0 * static_cast<double>(layers_[l].in) * static_cast<double>(layers_[l].out);
  return flops;
}

void Backprop::forward(const float* x, bool training) {
  const int64_t depth = static_cast<int64_t>(activations_.size());
  void* scratch = scratchpad();
  // Training: each product reads its operands as the training products take them (the operands'
  // bfloat16 copies with bf16 precision); inference: the f32 values and the f32 products.
  const void* in = x;
  if (training) {
    input_operand_.mark_live(arena_);
    in = input_operand_.prepare(arena_, x, batch_ * spec_.input);
  }
  for (int64_t l = 0; l <= depth; ++l) {
    const auto& p = layers_[l];
    float* out = l < depth ? arena_.floats(activations_[l]) : arena_.floats(logits_);
    arena_.mark_live(l < depth ? activations_[l] : logits_);
    if (training) {
      ops_[l].train_forward->run(in, p.matmul_weight(arena_), out, arena_.floats(p.bias), scratch);
      if (l < depth) {
        activation_operands_[l].mark_live(arena_);
        in = activation_operands_[l].prepare(arena_, out, batch_ * p.out);
      }
    } else {
      packed_weights_[l].run(arena_, ops_[l].forward, in, arena_.floats(p.weight), out, arena_.floats(p.bias), scratch,
                             weights_version());
      in = out;
    }
  }
}

double Backprop::output_loss(const int32_t* labels, BufferId dz_id) {
  const int64_t b = batch_;
  const Mat logits(arena_.floats(logits_), b, spec_.classes);
  const Mat probs(arena_.floats(probs_), b, spec_.classes);
  arena_.mark_live(probs_);
  const double loss = kern::softmax_xent_forward(probs, nullptr, logits, labels);
  arena_.mark_dead(logits_);
  arena_.mark_live(dz_id);
  kern::softmax_xent_backward(Mat(arena_.floats(dz_id), b, spec_.classes), probs, labels, 1.0f / static_cast<float>(b));
  arena_.mark_dead(probs_);
  return loss;
}

StepStats Backprop::step(const float* x, const int32_t* labels) {
  const int64_t depth = static_cast<int64_t>(activations_.size());
  const int64_t b = batch_;
  arena_.reset_live();
  forward(x, true);
  phases_.lap(kForward);
  StepStats stats;
  stats.samples = b;
  // dz of the output layer lives in grad_a_; each layer's dx goes to the other buffer.
  BufferId dz_id = grad_a_, dx_id = grad_b_;
  stats.loss = output_loss(labels, dz_id);
  phases_.lap(kLoss);
  void* scratch = scratchpad();
  ++step_;
  for (int64_t l = depth; l >= 0; --l) {
    const auto& p = layers_[l];
    const void* layer_input = l == 0 ? input_operand_.prepared(arena_, x)
                                     : activation_operands_[l - 1].prepared(arena_, arena_.floats(activations_[l - 1]));
    float* dz = arena_.floats(dz_id);
    grad_operand_.mark_live(arena_);
    const void* dz_matmul = grad_operand_.prepare(arena_, dz, b * p.out);
    ops_[l].weight_grad->run(layer_input, dz_matmul, arena_.floats(p.weight_grad), nullptr, scratch);
    if (l == depth) {  // the output layer's; each lower layer's is made with the ReLU backward above it
      std::memset(arena_.floats(p.bias_grad), 0, static_cast<size_t>(p.out) * sizeof(float));
      kern::bias_grad_accumulate(arena_.floats(p.bias_grad), Mat(dz, b, p.out));
    }
    phases_.lap(kWeightGrad);
    if (l > 0) {
      arena_.mark_live(dx_id);
      float* dx = arena_.floats(dx_id);
      propagate_error(l, dz_matmul, dx);
      phases_.lap(kError);
      const Mat a(arena_.floats(activations_[l - 1]), b, p.in);
      // The layer below's dz, and its bias gradient in the same pass.
      kern::relu_backward_bias_grad(Mat(dx, b, p.in), arena_.floats(layers_[l - 1].bias_grad), Mat(dx, b, p.in), a);
      phases_.lap(kRelu);
      arena_.mark_dead(dz_id);
      std::swap(dz_id, dx_id);
    }
    // Update after this layer's dx is computed: dx needs the weights of the forward pass. Data
    // mode: the ranks' gradients are averaged first (the layer below's backward waits for it).
    average_gradients(arena_.floats(p.weight_grad), p.in * p.out);
    average_gradients(arena_.floats(p.bias_grad), p.out);
    p.update(arena_, optimizer_, step_);
    p.refresh_bf16(arena_);
    phases_.lap(kUpdate);
    if (l > 0) {
      arena_.mark_dead(activations_[l - 1]);
      activation_operands_[l - 1].mark_dead(arena_);
    }
  }
  arena_.mark_dead(dz_id);
  return stats;
}

void Backprop::scores(const float* x, int64_t rows, int mode, float* out_scores) {
  (void)mode;
  forward(padded_input(x, rows));
  std::memcpy(out_scores, arena_.floats(logits_), static_cast<size_t>(rows * spec_.classes) * sizeof(float));
}

double Backprop::flops_per_sample(Phase phase, int mode) const {
  (void)mode;
  double forward = 0.0;
  for (const auto& p : layers_) forward += 2.0 * static_cast<double>(p.in) * static_cast<double>(p.out);
  if (phase == Phase::inference) return forward;
  return 2.0 * forward + propagation_flops();  // forward + weight gradients + the errors sent down
}

}  // namespace ffb
