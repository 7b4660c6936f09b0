// See dense.hpp.
#include "algorithms/dense.hpp"

#include <cstring>

#include "algorithms/backend/kernels.hpp"

namespace ffb {

void Dense::plan(MemoryPlan& plan, MatmulCache& matmuls, const std::string& name, const DenseConfig& config) {
  config_ = config;
  const int64_t b = config.batch, in = config.in, out = config.out;
  params_.plan(plan, name, in, out, config.optimizer);
  if (config.bf16) {
    constexpr int64_t half = sizeof(uint16_t);
    params_.plan_bf16(plan, name);
    input_bf16_ = plan.add_bytes(name + ".input.bf16", MemCategory::activations, b * in * half);
    grad_bf16_ = plan.add_bytes(name + ".grad.bf16", MemCategory::activations, b * out * half);
  }
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
  if (!config_.bf16) {
    train_forward_->run(x, arena.floats(params_.weight), y, arena.floats(params_.bias), scratch);
    return;
  }
  auto* x_half = static_cast<uint16_t*>(arena.raw(input_bf16_));
  kern::to_bf16(x_half, x, config_.batch * config_.in);
  train_forward_->run(x_half, arena.raw(params_.weight_bf16), y, arena.floats(params_.bias), scratch);
}

void Dense::backward(const Arena& arena, const float* x, const float* dz, float* dx, void* scratch) const {
  const void* x_product = x;
  const void* dz_product = dz;
  const void* w_product = arena.floats(params_.weight);
  if (config_.bf16) {
    auto* dz_half = static_cast<uint16_t*>(arena.raw(grad_bf16_));
    kern::to_bf16(dz_half, dz, config_.batch * config_.out);
    x_product = arena.raw(input_bf16_);  // made by forward_train
    dz_product = dz_half;
    w_product = arena.raw(params_.weight_bf16);
  }
  weight_grad_->run(x_product, dz_product, arena.floats(params_.weight_grad), nullptr, scratch);
  std::memset(arena.floats(params_.bias_grad), 0, static_cast<size_t>(config_.out) * sizeof(float));
  kern::bias_grad_accumulate(arena.floats(params_.bias_grad), Mat(const_cast<float*>(dz), config_.batch, config_.out));
  if (dx != nullptr) input_grad_->run(dz_product, w_product, dx, nullptr, scratch);
}

void Dense::update(Arena& arena, const OptimizerConfig& optimizer, int64_t step) const {
  params_.update(arena, optimizer, step);
  params_.refresh_bf16(arena);
}

}  // namespace ffb
