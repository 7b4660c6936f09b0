// Direct feedback alignment: the output error e reaches every hidden layer through a fixed random B_l.
#include "algorithms/dfa/dfa.hpp"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "algorithms/backend/kernels.hpp"

namespace ffb {


void DirectFeedbackAlignment::plan_feedback(MemoryPlan& plan) {
  const auto& params = layers();
  const int64_t k = spec_.classes;
  feedback_.assign(params.size(), BufferId{});
  feedback_bf16_.assign(params.size(), BufferId{});
  products_.assign(params.size(), nullptr);
  for (size_t l = 1; l < params.size(); ++l) {
    const int64_t in = params[l].in;
    feedback_[l] = plan.add_floats(fmt::format("feedback{}", l), MemCategory::weights, in * k);
    if (bf16())
      feedback_bf16_[l] = plan.add_bytes(fmt::format("feedback{}.bf16", l), MemCategory::scratch,
                                         in * k * static_cast<int64_t>(sizeof(uint16_t)));
    products_[l] = &matmul_op({.m = batch_, .n = in, .k = k, .trans_b = true, .bf16 = bf16()});
  }
  error_bytes_ = batch_ * k * static_cast<int64_t>(bf16() ? sizeof(uint16_t) : sizeof(float));
  error_ = plan.add_bytes("output.error", MemCategory::activations, error_bytes_);
}

void DirectFeedbackAlignment::init_feedback(Rng& rng) {
  // U(-1/sqrt(K), 1/sqrt(K)): each element of e B_l^T sums K terms, so its scale is that of one error.
  const auto& params = layers();
  const float bound = 1.0f / std::sqrt(static_cast<float>(spec_.classes));
  for (size_t l = 1; l < params.size(); ++l) {
    float* b = arena_.floats(feedback_[l]);
    for (int64_t i = 0; i < params[l].in * spec_.classes; ++i) b[i] = bound * (2.0f * rng.uniform() - 1.0f);
  }
}

void DirectFeedbackAlignment::weights_changed() {
  Backprop::weights_changed();
  const auto& params = layers();
  for (size_t l = 1; l < params.size(); ++l)
    if (feedback_bf16_[l].valid())
      kern::to_bf16(static_cast<uint16_t*>(arena_.raw(feedback_bf16_[l])), arena_.floats(feedback_[l]),
                    params[l].in * spec_.classes);
}

void DirectFeedbackAlignment::propagate_error(int64_t l, const void* dz, float* dx) {
  const int64_t depth = static_cast<int64_t>(layers().size()) - 1;
  if (l == depth) {  // dz is the output error e: keep it for the layers below
    arena_.mark_live(error_);
    std::memcpy(arena_.raw(error_), dz, static_cast<size_t>(error_bytes_));
  }
  const void* b = matmul_view(arena_, feedback_[l], feedback_bf16_[l]);
  products_[l]->run(arena_.raw(error_), b, dx, nullptr, scratchpad());
  if (l == 1) arena_.mark_dead(error_);
}

double DirectFeedbackAlignment::propagation_flops() const {
  double flops = 0.0;
  const auto& params = layers();
  for (size_t l = 1; l < params.size(); ++l)
    flops += 2.0 * static_cast<double>(params[l].in) * static_cast<double>(spec_.classes);
  return flops;
}

}  // namespace ffb
