// Feedback alignment: the error reaches layer l-1 through a fixed random B_l of W_l's shape.
#include "algorithms/fa/fa.hpp"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "algorithms/backend/kernels.hpp"

namespace ffb {


void FeedbackAlignment::plan_feedback(MemoryPlan& plan) {
  const auto& params = layers();
  feedback_.assign(params.size(), BufferId{});
  feedback_bf16_.assign(params.size(), BufferId{});
  products_.assign(params.size(), nullptr);
  for (size_t l = 1; l < params.size(); ++l) {
    const int64_t in = params[l].in, out = params[l].out;
    // Fixed for the whole run and needed to continue training from a saved file: kept with the weights.
    feedback_[l] = plan.add_floats(fmt::format("feedback{}", l), MemCategory::weights, in * out);
    if (bf16())
      feedback_bf16_[l] = plan.add_bytes(fmt::format("feedback{}.bf16", l), MemCategory::scratch,
                                         in * out * static_cast<int64_t>(sizeof(uint16_t)));
    products_[l] = &matmul_op({.m = batch_, .n = in, .k = out, .trans_b = true, .bf16 = bf16()});
  }
}

void FeedbackAlignment::init_feedback(Rng& rng) {
  // Drawn like the forward weights: U(-1/sqrt(in), 1/sqrt(in)).
  const auto& params = layers();
  for (size_t l = 1; l < params.size(); ++l) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(params[l].in));
    float* b = arena_.floats(feedback_[l]);
    for (int64_t i = 0; i < params[l].in * params[l].out; ++i) b[i] = bound * (2.0f * rng.uniform() - 1.0f);
  }
}

void FeedbackAlignment::weights_changed() {
  Backprop::weights_changed();
  const auto& params = layers();
  for (size_t l = 1; l < params.size(); ++l)
    if (feedback_bf16_[l].valid())
      kern::to_bf16(static_cast<uint16_t*>(arena_.raw(feedback_bf16_[l])), arena_.floats(feedback_[l]), params[l].in * params[l].out);
}

void FeedbackAlignment::copy_weights_to_feedback() {
  const auto& params = layers();
  for (size_t l = 1; l < params.size(); ++l)
    std::memcpy(arena_.floats(feedback_[l]), arena_.floats(params[l].weight),
                static_cast<size_t>(params[l].in * params[l].out) * sizeof(float));
  weights_changed();
}

void FeedbackAlignment::propagate_error(int64_t l, const void* dz, float* dx) {
  const void* b = matmul_view(arena_, feedback_[l], feedback_bf16_[l]);
  products_[l]->run(dz, b, dx, nullptr, scratchpad());
}

}  // namespace ffb
