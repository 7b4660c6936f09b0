// Self-contrastive Forward-Forward (Chen et al., Nature Communications 2025), for fully connected
// layers: unsupervised, positives are a sample paired with itself, negatives a sample paired with
// another; a linear probe reads the layers. See README.md beside this file.
#pragma once
#include <vector>

#include "algorithms/dense.hpp"

namespace ffb {

class SelfContrastiveFF final : public DenseAlgorithm {
 public:
  explicit SelfContrastiveFF(const nlohmann::json& options);
  static std::vector<OptionInfo> declared_options();

  std::string name() const override { return "scff"; }
  std::vector<std::string> prediction_modes() const override { return {"probe"}; }
  void scores(const float* x, int64_t rows, int mode, float* out_scores) override;
  double flops_per_sample(Phase phase, int mode = 0) const override;
  std::string distribution_problem(DistributedMode mode) const override;

  // The negatives of the last step paired row i with row (i + shift) mod B (shift in [1, B-1]).
  int64_t last_shift() const { return shift_; }

 protected:
  StepStats step(const float* x, const int32_t* labels) override;
  void plan_layers(MemoryPlan& plan) override;  // layers_ (W_l: 2 in_l -> H_l, ReLU; 2B rows training, B inference), the probe
  void init_weights(Rng& rng) override;         // the layers, then the pairing's seed
  void schedule_extra(double factor) override { probe_optimizer_.lr = static_cast<float>(base_probe_lr_ * factor); }

 private:
  // rows x 2 in: row i = [x_i, x_i] (positives), or with `shift` > 0 rows B + i = [x_i, x_{(i+shift) mod B}].
  void pair_rows(float* out, const float* x, int64_t in, int64_t shift) const;
  // Layer l's loss on its pairs' goodness g (2B: B positives, then B negatives): dLoss/dg into dg,
  // the layer's statistics into stats.
  void pair_loss(const float* g, float* dg, int64_t l, StepStats& stats) const;
  void train_probe(const float* features, const int32_t* labels, StepStats& stats);
  OptimizerConfig probe_optimizer_;
  float base_probe_lr_ = 0.0f;
  float threshold_ = 1.0f;
  uint64_t pairing_seed_ = 0;
  int64_t shift_ = 0;
  Dense probe_;                 // the concatenated normalised positive activities -> K
  BufferId pairs_, hidden_, goodness_, goodness_grad_, features_, scale_, probe_logits_, probe_probs_, probe_grad_;
  int64_t feature_width_ = 0;
};


}  // namespace ffb
