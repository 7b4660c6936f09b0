// See dense.hpp.
#include "algorithms/dense.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "algorithms/backend/kernels.hpp"

namespace ffb {

void Dense::plan(MemoryPlan& plan, MatmulCache& matmuls, const std::string& name, const DenseConfig& config) {
  config_ = config;
  const int64_t b = config.batch, in = config.in, out = config.out;
  params_.plan(plan, name, in, out, config.optimizer);
  if (config.bf16) params_.plan_bf16(plan, name);
  input_.plan(plan, name + ".input.bf16", b * in, config.bf16);
  grad_.plan(plan, name + ".grad.bf16", b * out, config.bf16);
  const int64_t rows = config.inference_batch > 0 ? config.inference_batch : b;
  forward_ = &matmuls.get({.m = rows, .n = out, .k = in, .bias = true, .relu = config.relu});
  train_forward_ = &matmuls.get({.m = b, .n = out, .k = in, .bias = true, .relu = config.relu, .bf16 = config.bf16});
  weight_grad_ = &matmuls.get({.m = in, .n = out, .k = b, .trans_a = true, .bf16 = config.bf16});
  if (config.input_grad) input_grad_ = &matmuls.get({.m = b, .n = in, .k = out, .trans_b = true, .bf16 = config.bf16});
}

void Dense::forward(const Arena& arena, const float* x, float* y, void* scratch) const {
  forward_->run(x, arena.floats(params_.weight), y, arena.floats(params_.bias), scratch);
}

void Dense::forward_train(const Arena& arena, const float* x, float* y, void* scratch) const {
  train_forward_->run(input_.prepare(arena, x, config_.batch * config_.in), params_.matmul_weight(arena), y,
                      arena.floats(params_.bias), scratch);
}

void Dense::backward(const Arena& arena, const float* x, const float* dz, float* dx, void* scratch) const {
  const void* x_product = input_.prepared(arena, x);  // bf16: the copy forward_train made
  const void* dz_product = grad_.prepare(arena, dz, config_.batch * config_.out);
  const void* w_product = params_.matmul_weight(arena);
  weight_grad_->run(x_product, dz_product, arena.floats(params_.weight_grad), nullptr, scratch);
  std::memset(arena.floats(params_.bias_grad), 0, static_cast<size_t>(config_.out) * sizeof(float));
  kern::bias_grad_accumulate(arena.floats(params_.bias_grad), Mat(const_cast<float*>(dz), config_.batch, config_.out));
  if (dx != nullptr) input_grad_->run(dz_product, w_product, dx, nullptr, scratch);
}

void Dense::update(Arena& arena, const OptimizerConfig& optimizer, int64_t step) const {
  params_.update(arena, optimizer, step);
  params_.refresh_bf16(arena);
}

DenseAlgorithm::DenseAlgorithm(const std::string& name, const std::vector<OptionInfo>& declared, const nlohmann::json& options)
    : Algorithm(std::make_unique<Options>(name, declared, options)) {
  optimizer_ = optimizer_from(*options_);
  base_lr_ = optimizer_.lr;
  lr_decay_start_ = options_->integer("lr_decay_start");
  bf16_ = bf16_precision(*options_);
}

void DenseAlgorithm::begin_epoch(int64_t epoch, int64_t total_epochs) {
  const double factor = lr_decay_factor(lr_decay_start_, epoch, total_epochs);
  optimizer_.lr = static_cast<float>(base_lr_ * factor);
  schedule_extra(factor);
}

std::string DenseAlgorithm::distribution_problem(DistributedMode mode) const {
  if (mode == DistributedMode::pipeline) return name() + " has no pipelined schedule yet; use --distributed data";
  return {};
}

void DenseAlgorithm::plan_buffers(MemoryPlan& plan) {
  if (spec_.hidden.empty())
    throw std::invalid_argument(fmt::format("{}: impossible model {}: it needs at least one hidden layer", name(), spec_.describe()));
  planned_.clear();
  layers_.clear();
  plan_layers(plan);
}

int64_t DenseAlgorithm::plan_hidden_layers(MemoryPlan& plan, int64_t in_factor, int64_t rows, int64_t inference_rows) {
  const auto depth = static_cast<int64_t>(spec_.hidden.size());
  layers_.assign(static_cast<size_t>(depth), {});
  int64_t widest = 0;
  for (int64_t l = 0; l < depth; ++l) {
    const int64_t in = l == 0 ? spec_.input : spec_.hidden[l - 1], out = spec_.hidden[l];
    plan_layer(plan, layers_[l], fmt::format("layer{}", l),
               {.in = in_factor * in, .out = out, .batch = rows > 0 ? rows : batch_, .inference_batch = inference_rows, .relu = true});
    widest = std::max(widest, out);
  }
  return widest;
}

void DenseAlgorithm::plan_layer(MemoryPlan& plan, Dense& layer, const std::string& name, DenseConfig config) {
  if (config.batch == 0) config.batch = batch_;
  config.bf16 = bf16_;
  config.optimizer = optimizer_.kind;
  layer.plan(plan, matmuls_, name, config);
  planned_.push_back(&layer);
}

void DenseAlgorithm::init_weights(Rng& rng) {
  for (const Dense* layer : planned_) layer->init(arena_, rng);
  step_ = 0;
}

void DenseAlgorithm::weights_changed() {
  for (const Dense* layer : planned_) layer->weights_changed(arena_);
}

StepStats DenseAlgorithm::begin_step() {
  arena_.reset_live();
  ++step_;
  StepStats stats;
  stats.samples = batch_;
  stats.layers = static_cast<int>(spec_.hidden.size());
  return stats;
}

float DenseAlgorithm::cross_entropy(BufferId scores, BufferId probs, BufferId gradient, const int32_t* labels, float scale) {
  const int64_t b = batch_, k = spec_.classes;
  arena_.mark_live(scores);
  arena_.mark_live(probs);
  const Mat p(arena_.floats(probs), b, k);
  const float loss = kern::softmax_xent_forward(p, nullptr, Mat(arena_.floats(scores), b, k), labels);
  arena_.mark_live(gradient);
  kern::softmax_xent_backward(Mat(arena_.floats(gradient), b, k), p, labels, scale > 0.0f ? scale : 1.0f / static_cast<float>(b));
  arena_.mark_dead(probs);
  arena_.mark_dead(scores);
  return loss;
}

void DenseAlgorithm::update(const Dense& layer, const OptimizerConfig& optimizer) {
  const auto& p = layer.params();
  average_gradients(arena_.floats(p.weight_grad), p.in * p.out);
  average_gradients(arena_.floats(p.bias_grad), p.out);
  layer.update(arena_, optimizer, step_);
}

}  // namespace ffb
