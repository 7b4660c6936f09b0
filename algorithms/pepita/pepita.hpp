// PEPITA (Dellaferrera & Kreiman, ICML 2022): the backward pass replaced by a second forward pass on
// the input modulated by the output error. See README.md beside this file.
#pragma once
#include <vector>

#include "algorithms/dense.hpp"

namespace ffb {

class Pepita final : public DenseAlgorithm {
 public:
  explicit Pepita(const nlohmann::json& options);
  static std::vector<OptionInfo> declared_options();

  std::string name() const override { return "pepita"; }
  std::vector<std::string> prediction_modes() const override { return {"softmax"}; }
  void scores(const float* x, int64_t rows, int mode, float* out_scores) override;
  double flops_per_sample(Phase phase, int mode = 0) const override;
  // Not layer-local (the output error reaches every layer through the input): Algorithm's answer.
  std::string distribution_problem(DistributedMode mode) const override { return Algorithm::distribution_problem(mode); }

 protected:
  StepStats step(const float* x, const int32_t* labels) override;
  void plan_layers(MemoryPlan& plan) override;  // layers_: L hidden (ReLU), then the output layer (linear)
  void init_weights(Rng& rng) override;         // the layers, then F

 private:
  // Runs every layer on `input`; activations into acts (ReLU for hidden layers, logits for the last).
  void forward(const float* input, const std::vector<BufferId>& acts, bool training);
  float feedback_scale_ = 0.05f;
  std::vector<BufferId> first_, second_;    // h_l of the standard and of the modulated pass, l = 1..L+1
  BufferId feedback_, modulated_input_, probs_, error_, delta_;
  const Matmul* modulate_ = nullptr;        // x + e F^T (F: D x K)
};


}  // namespace ffb
