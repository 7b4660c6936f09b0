// Feedback alignment (Lillicrap et al. 2016): backpropagation with the transposed forward weights
// replaced by fixed random matrices. See README.md beside this file.
#pragma once
#include <vector>

#include "algorithms/bp/bp.hpp"

namespace ffb {

class FeedbackAlignment final : public Backprop {
 public:
  explicit FeedbackAlignment(const nlohmann::json& options) : Backprop(options, "fa") {}
  // B_l := W_l for every layer: the next step is then exactly a backprop step (the reference check).
  void copy_weights_to_feedback();

 protected:
  void propagate_error(int64_t l, const void* dz, float* dx) override;  // dx = dz B_l^T
  void plan_feedback(MemoryPlan& plan) override;
  void init_feedback(Rng& rng) override;
  void weights_changed() override;

 private:
  std::vector<BufferId> feedback_, feedback_bf16_;  // index l = 1..L (layer l's B_l, in_l x out_l)
  std::vector<const Matmul*> products_;
};


}  // namespace ffb
