// Mono-Forward (Gong, Li & Abdulla 2025, arXiv:2501.09238): every hidden layer learns on its own,
// through a local projection to class scores and a local cross-entropy. See README.md beside this file.
#pragma once
#include <vector>

#include "algorithms/dense.hpp"

namespace ffb {

class MonoForward final : public DenseAlgorithm {
 public:
  explicit MonoForward(const nlohmann::json& options);
  static std::vector<OptionInfo> declared_options();

  std::string name() const override { return "mono_forward"; }
  // "last": the last layer's scores G_L (one pass); "sum": the sum of every layer's scores.
  std::vector<std::string> prediction_modes() const override { return {"last", "sum"}; }
  void scores(const float* x, int64_t rows, int mode, float* out_scores) override;
  double flops_per_sample(Phase phase, int mode = 0) const override;

 protected:
  StepStats step(const float* x, const int32_t* labels) override;
  void plan_layers(MemoryPlan& plan) override;  // layers_ (W_l: in_l -> H_l, ReLU) and the projections

 private:
  std::vector<Dense> projections_;  // M_l: H_l -> K (class scores G_l)
  BufferId act_a_, act_b_;          // a_{l-1} and a_l, alternating (B x widest)
  BufferId logits_, probs_, logits_grad_, act_grad_;
};


}  // namespace ffb
