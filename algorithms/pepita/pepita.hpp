// PEPITA (Dellaferrera & Kreiman, ICML 2022): the backward pass replaced by a second forward pass on
// the input modulated by the output error. See README.md beside this file.
#pragma once
#include <vector>

#include "algorithms/dense.hpp"

namespace ffb {

class Pepita final : public Algorithm {
 public:
  explicit Pepita(const nlohmann::json& options);
  static std::vector<OptionInfo> declared_options();

  std::string name() const override { return "pepita"; }
  void begin_epoch(int64_t epoch, int64_t total_epochs) override;
  std::vector<std::string> prediction_modes() const override { return {"softmax"}; }
  void scores(const float* x, int64_t rows, int mode, float* out_scores) override;
  double flops_per_sample(Phase phase, int mode = 0) const override;

 protected:
  StepStats step(const float* x, const int32_t* labels) override;
  void plan_buffers(MemoryPlan& plan) override;
  void init_weights(Rng& rng) override;
  void weights_changed() override;

 private:
  // Runs every layer on `input`; activations into acts (ReLU for hidden layers, logits for the last).
  void forward(const float* input, const std::vector<BufferId>& acts, bool training);
  OptimizerConfig optimizer_;
  float base_lr_ = 0.0f;
  int64_t lr_decay_start_ = 0;
  bool bf16_ = false;
  float feedback_scale_ = 0.05f;
  std::vector<Dense> layers_;               // L hidden + 1 output
  std::vector<BufferId> first_, second_;    // h_l of the standard and of the modulated pass, l = 1..L+1
  BufferId feedback_, modulated_input_, probs_, error_, delta_;
  const Matmul* modulate_ = nullptr;        // x + e F^T (F: D x K)
  int64_t step_ = 0;
};

std::unique_ptr<Algorithm> create_pepita(const nlohmann::json& options);

}  // namespace ffb
