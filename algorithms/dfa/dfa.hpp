// Direct feedback alignment (Nøkland 2016): every hidden layer gets the output error directly,
// through its own fixed random matrix. See README.md beside this file.
#pragma once
#include <vector>

#include "algorithms/bp/bp.hpp"

namespace ffb {

class DirectFeedbackAlignment final : public Backprop {
 public:
  explicit DirectFeedbackAlignment(const nlohmann::json& options) : Backprop(options, "dfa") {}

 protected:
  // dx = e B_l^T for every l, with e the output layer's error (dz at l = L).
  void propagate_error(int64_t l, const void* dz, float* dx) override;
  double propagation_flops() const override;
  void plan_feedback(MemoryPlan& plan) override;
  void init_feedback(Rng& rng) override;
  void weights_changed() override;

 private:
  std::vector<BufferId> feedback_, feedback_bf16_;  // index l = 1..L: B_l, in_l x K
  std::vector<const Matmul*> products_;
  BufferId error_;       // e (B x K), kept from l = L for the layers below (bf16 bytes with bf16 precision)
  int64_t error_bytes_ = 0;
};


}  // namespace ffb
