// Backpropagation baseline: an MLP with ReLU hidden layers, a linear output and softmax
// cross-entropy, trained end to end. See README.md beside this file.
#pragma once
#include <vector>

#include "algorithms/layers.hpp"

namespace ffb {

// Feedback alignment (fa) and direct feedback alignment (dfa) derive from it: they change only how the
// error reaches the layer below (propagate_error) and plan their fixed feedback matrices.
class Backprop : public Algorithm {
 public:
  explicit Backprop(const nlohmann::json& options, const std::string& name = "bp");
  static std::vector<OptionInfo> declared_options();

  std::string name() const override { return name_; }
  void begin_epoch(int64_t epoch, int64_t total_epochs) override;  // lr_decay_start
  std::vector<std::string> prediction_modes() const override { return {"softmax"}; }
  void scores(const float* x, int64_t rows, int mode, float* out_scores) override;
  double flops_per_sample(Phase phase, int mode = 0) const override;

 protected:
  StepStats step(const float* x, const int32_t* labels) override;
  void plan_buffers(MemoryPlan& plan) override;
  void init_weights(Rng& rng) override;

  // The feedback hook. The error sent to the layer below layer l (dx: B x in_l, before its ReLU
  // mask) from layer l's error (dz: B x out_l, as the product takes it: bfloat16 with bf16 precision).
  // bp: dx = dz W_l^T, with W_l as it was in the forward pass. Called for l = L (the output layer) down to 1.
  virtual void propagate_error(int64_t l, const void* dz, float* dx);
  // FLOPs per sample of every propagate_error of one step (bp: 2 in_l out_l for l = 1..L).
  virtual double propagation_flops() const;
  // Extra buffers and primitives (called at the end of plan_buffers) and their initial values
  // (called after the layers' weights are drawn).
  virtual void plan_feedback(MemoryPlan& plan) { (void)plan; }
  virtual void init_feedback(Rng& rng) { (void)rng; }

  void weights_changed() override;
  const std::vector<LinearParams>& layers() const { return layers_; }
  bool bf16() const { return bf16_; }

 private:
  // The step's parts (StepPhases), in the order a step runs them (the backward parts per layer).
  enum Part : size_t { kForward, kLoss, kWeightGrad, kError, kRelu, kUpdate };
  // Forward through every layer; logits land in logits_. Marks activations live as it goes.
  // `training` selects the training matmuls (bf16 when asked) over the f32 inference ones.
  void forward(const float* x, bool training = false);
  // Softmax cross-entropy on the logits (returned) and the output layer's dz into dz_id.
  double output_loss(const int32_t* labels, BufferId dz_id);

  OptimizerConfig optimizer_;
  float base_lr_ = 0.0f;  // before the epoch's lr_decay_start factor
  int64_t lr_decay_start_ = 0;
  bool bf16_ = false;
  // The training products' operands: with bf16 precision bfloat16 copies of the input, of each
  // activation and of dz; with f32 the values themselves.
  MatmulOperand input_operand_, grad_operand_;
  std::vector<MatmulOperand> activation_operands_;
  std::vector<LinearParams> layers_;     // L hidden + 1 output
  std::vector<BufferId> activations_;    // a_1 .. a_L (B x H_l), ReLU outputs
  BufferId logits_, probs_, grad_a_, grad_b_;
  struct Ops {
    InferenceProduct forward;     // inference (f32; the weights packed where that pays)
    const Matmul* weight_grad;
    const Matmul* input_grad;  // nullptr for the first layer
    const Matmul* train_forward;  // the forward used in training (bf16 inputs when precision is bf16)
  };
  std::vector<Ops> ops_;
  std::vector<PackedWeights> packed_weights_;  // per layer, for inference
  int64_t step_ = 0;
  std::string name_;
};

}  // namespace ffb
