// Mono-Forward (Gong, Li & Abdulla 2025, arXiv:2501.09238): every hidden layer learns on its own,
// through a local projection to class scores and a local cross-entropy. See README.md beside this file.
#pragma once
#include <vector>

#include "algorithms/dense.hpp"

namespace ffb {

class MonoForward final : public Algorithm {
 public:
  explicit MonoForward(const nlohmann::json& options);
  static std::vector<OptionInfo> declared_options();

  std::string name() const override { return "mono_forward"; }
  void begin_epoch(int64_t epoch, int64_t total_epochs) override;
  // "last": the last layer's scores G_L (one pass); "sum": the sum of every layer's scores.
  std::vector<std::string> prediction_modes() const override { return {"last", "sum"}; }
  void scores(const float* x, int64_t rows, int mode, float* out_scores) override;
  double flops_per_sample(Phase phase, int mode = 0) const override;
  std::string distribution_problem(DistributedMode mode) const override;

 protected:
  StepStats step(const float* x, const int32_t* labels) override;
  void plan_buffers(MemoryPlan& plan) override;
  void init_weights(Rng& rng) override;
  void weights_changed() override;

 private:
  void update(const Dense& layer);
  OptimizerConfig optimizer_;
  float base_lr_ = 0.0f;
  int64_t lr_decay_start_ = 0;
  bool bf16_ = false;
  std::vector<Dense> layers_;       // W_l: in_l -> H_l, ReLU
  std::vector<Dense> projections_;  // M_l: H_l -> K (class scores G_l)
  BufferId act_a_, act_b_;          // a_{l-1} and a_l, alternating (B x widest)
  BufferId logits_, probs_, logits_grad_, act_grad_;
  int64_t step_ = 0;
};

std::unique_ptr<Algorithm> create_mono_forward(const nlohmann::json& options);

}  // namespace ffb
