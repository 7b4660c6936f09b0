// SymBa (Lee & Song, 2023): Forward-Forward with a symmetric, threshold-free loss over paired
// positive and negative samples: loss = softplus(-alpha * (g_pos - g_neg)), averaged over the B pairs.
// Everything else (layers, negatives, schedules, prediction) is ff's. See README.md.
#pragma once
#include <vector>

#include "algorithms/ff/ff.hpp"

namespace ffb {

class SymBa final : public ForwardForward {
 public:
  explicit SymBa(const nlohmann::json& options);
  // ff's options without its threshold, plus alpha.
  static std::vector<OptionInfo> declared_options();

 protected:
  bool row_local_loss() const override { return false; }  // each pair's rows share one loss term
  double pair_loss(const float* g, float* dg, int64_t b, int64_t width) const override;

 private:
  float alpha_;
};

}  // namespace ffb
