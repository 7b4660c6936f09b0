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
  MatmulOperand input_, grad_;  // x and dz as the training products read them
  const Matmul* forward_ = nullptr;
  const Matmul* train_forward_ = nullptr;
  const Matmul* weight_grad_ = nullptr;
  const Matmul* input_grad_ = nullptr;
};

// The frame of an algorithm built on Dense layers (mono_forward, ff_grouped, pepita, scff): the shared
// optimizer options and their learning-rate schedule, the hidden layers W_l (ReLU) planned together,
// every planned layer drawn at setup and refreshed after a load, and the update (averaged over the
// ranks in data mode). An algorithm implements plan_layers (its layers, buffers and primitives).
class DenseAlgorithm : public Algorithm {
 public:
  void begin_epoch(int64_t epoch, int64_t total_epochs) override;
  std::string distribution_problem(DistributedMode mode) const override;

 protected:
  DenseAlgorithm(const std::string& name, const std::vector<OptionInfo>& declared, const nlohmann::json& options);
  // The algorithm's plan: its layers (plan_hidden_layers, plan_layer), buffers and primitives.
  virtual void plan_layers(MemoryPlan& plan) = 0;
  // layers_[l]: in_l x in_factor -> H_l with ReLU (in_0 = D), `rows` training rows (0: B), `inference_rows`
  // rows at inference (0: as training). Returns the widest hidden layer.
  int64_t plan_hidden_layers(MemoryPlan& plan, int64_t in_factor = 1, int64_t rows = 0, int64_t inference_rows = 0);
  // Plans one more layer (precision and optimizer are the algorithm's) and registers it for init and refresh.
  void plan_layer(MemoryPlan& plan, Dense& layer, const std::string& name, DenseConfig config);
  void init_weights(Rng& rng) override;
  void weights_changed() override;
  // Data mode: the gradients averaged over the ranks; then one optimizer step.
  void update(const Dense& layer, const OptimizerConfig& optimizer);
  void update(const Dense& layer) { update(layer, optimizer_); }
  // A step's start: the live-activation count reset, the step counted, stats for B samples over the
  // hidden layers.
  StepStats begin_step();
  // Softmax cross-entropy of `scores` (B x K) against the labels: the mean loss; `gradient` gets
  // (softmax - onehot) * scale (default 1/B). `probs` is scratch for the softmax; `scores` and `probs`
  // are marked dead after, `gradient` live.
  float cross_entropy(BufferId scores, BufferId probs, BufferId gradient, const int32_t* labels, float scale = 0.0f);
  // Learning-rate factor of the epoch, for optimizers of the algorithm's own (scff's probe).
  virtual void schedule_extra(double factor) { (void)factor; }

  OptimizerConfig optimizer_;
  float base_lr_ = 0.0f;
  int64_t lr_decay_start_ = 0;
  bool bf16_ = false;
  int64_t step_ = 0;
  std::vector<Dense> layers_;

 private:
  void plan_buffers(MemoryPlan& plan) final;
  std::vector<const Dense*> planned_;  // every layer, in planning order (init draws them in that order)
};

}  // namespace ffb
