// A fully connected layer that owns its precision: the forward product (bias, optional ReLU), the
// weight gradient (dW = x^T dz, db = column sums of dz) and the input gradient (dx = dz W^T), each
// through a matmul primitive created while planning. With bf16 precision the training products take
// bfloat16 copies of their inputs, made here into buffers planned here, so an algorithm's step never
// branches on precision. Inference products are always f32.
//
// Usage inside a step: forward_train(x) ... backward(x, dz, dx) ... update(). backward must follow a
// forward_train of the same x (with bf16 it reuses the bfloat16 copy of x that forward_train made).
#pragma once
#include <cstdint>
#include <string>

#include "algorithms/layers.hpp"

namespace ffb {

struct DenseConfig {
  int64_t in = 0, out = 0;
  int64_t batch = 0;          // rows of every training product (B)
  int64_t inference_batch = 0;  // rows of the inference product (0: batch)
  bool relu = false;          // forward applies ReLU after the bias
  bool bf16 = false;          // training products on bfloat16 inputs
  bool input_grad = false;    // plan and create dx = dz W^T
  OptimizerKind optimizer = OptimizerKind::sgd;
};

class Dense {
 public:
  // Plans the parameters, gradients, optimizer state and the bf16 copies; creates the primitives.
  void plan(MemoryPlan& plan, MatmulCache& matmuls, const std::string& name, const DenseConfig& config);
  void init(Arena& arena, Rng& rng) const { params_.init(arena, rng); }

  // y (inference_batch x out) = act(x W + b): the f32 inference product.
  void forward(const Arena& arena, const float* x, float* y, void* scratch) const;
  // The training forward (bf16 inputs when the layer trains in bf16).
  void forward_train(const Arena& arena, const float* x, float* y, void* scratch) const;
  // dW = x^T dz and db = sum_b dz into the gradient buffers; dx = dz W^T when dx is not null.
  void backward(const Arena& arena, const float* x, const float* dz, float* dx, void* scratch) const;
  // One optimizer step on the gradients, then the bf16 working copy of W is refreshed.
  void update(Arena& arena, const OptimizerConfig& optimizer, int64_t step) const;
  void weights_changed(Arena& arena) const { params_.refresh_bf16(arena); }

  const LinearParams& params() const { return params_; }
  int64_t in() const { return config_.in; }
  int64_t out() const { return config_.out; }
  // Multiply-adds of one product per sample (in x out); FLOPs are 2x this per product.
  double macs() const { return static_cast<double>(config_.in) * static_cast<double>(config_.out); }

 private:
  DenseConfig config_;
  LinearParams params_;
  BufferId input_bf16_, grad_bf16_;
  const Matmul* forward_ = nullptr;
  const Matmul* train_forward_ = nullptr;
  const Matmul* weight_grad_ = nullptr;
  const Matmul* input_grad_ = nullptr;
};

}  // namespace ffb
