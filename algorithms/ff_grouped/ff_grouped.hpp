// Class-grouped goodness (after CwComp, Papachristodoulou et al., AAAI 2024, and DeeperForward, ICLR
// 2025), for fully connected layers: each layer's units are split into one group per class, the
// group's mean activity is that class's goodness, and a local cross-entropy on the goodness trains
// the layer; no negative data, one pass. See README.md beside this file.
#pragma once
#include <vector>

#include "algorithms/dense.hpp"

namespace ffb {

class FFGrouped final : public DenseAlgorithm {
 public:
  explicit FFGrouped(const nlohmann::json& options);
  static std::vector<OptionInfo> declared_options();

  std::string name() const override { return "ff_grouped"; }
  // "goodness": the sum over layers of each class's group goodness (one pass).
  std::vector<std::string> prediction_modes() const override { return {"goodness"}; }
  void scores(const float* x, int64_t rows, int mode, float* out_scores) override;
  double flops_per_sample(Phase phase, int mode = 0) const override;

  // Units [group_start(c, h), group_start(c + 1, h)) of a layer of h units form class c's group.
  static int64_t group_start(int64_t c, int64_t h, int64_t classes) { return c * h / classes; }

 protected:
  StepStats step(const float* x, const int32_t* labels) override;
  void plan_layers(MemoryPlan& plan) override;

 private:
  // g[b, c] = scale * mean of a[b, group c]; then the next layer's input: each group divided by its RMS.
  void group_goodness(float* g, const float* a, int64_t h) const;
  void group_normalize(float* next, const float* a, int64_t h) const;
  float scale_ = 1.0f;
  BufferId act_, normalized_a_, normalized_b_, act_grad_, goodness_, probs_, goodness_grad_;
};


}  // namespace ffb
