// See optimizer.hpp. Update rules follow torch.optim.SGD (dampening 0) and torch.optim.Adam, so the
// PyTorch peers can reproduce the same steps.
#include "algorithms/backend/optimizer.hpp"

#include <cmath>
#include <stdexcept>

namespace ffb {

OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "sgd") return OptimizerKind::sgd;
  if (name == "adam") return OptimizerKind::adam;
  throw std::invalid_argument("unknown optimizer '" + name + "': use 'sgd' or 'adam'");
}

const char* to_string(OptimizerKind kind) { return kind == OptimizerKind::sgd ? "sgd" : "adam"; }

int optimizer_state_per_parameter(OptimizerKind kind) { return kind == OptimizerKind::sgd ? 1 : 2; }

void optimizer_step(const OptimizerConfig& c, int64_t step, float* w, const float* g, float* state, int64_t n) {
  if (c.kind == OptimizerKind::sgd) {
    float* velocity = state;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float grad = g[i] + c.weight_decay * w[i];
      velocity[i] = c.momentum * velocity[i] + grad;
      w[i] -= c.lr * velocity[i];
    }
    return;
  }
  float* m = state;
  float* v = state + n;
  const float correction1 = 1.0f - std::pow(c.beta1, static_cast<float>(step));
  const float correction2 = 1.0f - std::pow(c.beta2, static_cast<float>(step));
  const float step_size = c.lr / correction1;
  const float inv_sqrt_c2 = 1.0f / std::sqrt(correction2);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float grad = g[i] + c.weight_decay * w[i];
    m[i] = c.beta1 * m[i] + (1.0f - c.beta1) * grad;
    v[i] = c.beta2 * v[i] + (1.0f - c.beta2) * grad * grad;
    w[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + c.eps);
  }
}

}  // namespace ffb
