// Optimizers over flat parameter arrays: SGD with momentum and weight decay, and Adam.
// State lives in the arena (category "optimizer"); a step allocates nothing.
#pragma once
#include <cstdint>
#include <string>

namespace ffb {

enum class OptimizerKind { sgd, adam };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::adam;
  float lr = 1e-3f;
  float momentum = 0.9f;      // sgd
  float weight_decay = 0.0f;  // both: added to the gradient (L2), as torch.optim does
  float beta1 = 0.9f;         // adam
  float beta2 = 0.999f;
  float eps = 1e-8f;
};

OptimizerKind parse_optimizer(const std::string& name);  // "sgd" | "adam"; throws naming both
const char* to_string(OptimizerKind kind);

// Floats of optimizer state per parameter (sgd: velocity; adam: first and second moments).
int optimizer_state_per_parameter(OptimizerKind kind);

// One update of n parameters. `state` holds optimizer_state_per_parameter(kind) * n floats;
// `step` counts from 1 (Adam's bias correction).
void optimizer_step(const OptimizerConfig& config, int64_t step, float* weights, const float* grads, float* state,
                    int64_t n);

// One parameter array with its gradient and optimizer state (as optimizer_step takes them).
struct ParamSpan {
  float* weights;
  const float* grads;
  float* state;
  int64_t n;
};
// A layer's update: both arrays (weights and bias) in one parallel region, one barrier instead of
// two; each value is updated by the same expression as optimizer_step (same bits).
void optimizer_step(const OptimizerConfig& config, int64_t step, const ParamSpan& first, const ParamSpan& second);

}  // namespace ffb
