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

namespace {
// The update rules, per element. Adam's bias corrections are per step: `AdamStep` holds them.
struct AdamStep {
  float step_size, inv_sqrt_c2;
  AdamStep(const OptimizerConfig& c, int64_t step)
      : step_size(c.lr / (1.0f - std::pow(c.beta1, static_cast<float>(step)))),
        inv_sqrt_c2(1.0f / std::sqrt(1.0f - std::pow(c.beta2, static_cast<float>(step)))) {}
};

inline void sgd_element(const OptimizerConfig& c, float& w, float g, float& velocity) {
  const float grad = g + c.weight_decay * w;
  velocity = c.momentum * velocity + grad;
  w -= c.lr * velocity;
}

inline void adam_element(const OptimizerConfig& c, const AdamStep& a, float& w, float g, float& m, float& v) {
  const float grad = g + c.weight_decay * w;
  m = c.beta1 * m + (1.0f - c.beta1) * grad;
  v = c.beta2 * v + (1.0f - c.beta2) * grad * grad;
  w -= a.step_size * m / (std::sqrt(v) * a.inv_sqrt_c2 + c.eps);
}

// The loop over one array, inside an enclosing parallel region (orphaned worksharing).
inline void update_span(const OptimizerConfig& c, const AdamStep& a, const ParamSpan& p) {
  float* w = p.weights;
  const float* g = p.grads;
  if (c.kind == OptimizerKind::sgd) {
    float* velocity = p.state;
#pragma omp for simd schedule(static) nowait
    for (int64_t i = 0; i < p.n; ++i) sgd_element(c, w[i], g[i], velocity[i]);
    return;
  }
  float* m = p.state;
  float* v = p.state + p.n;
#pragma omp for simd schedule(static) nowait
  for (int64_t i = 0; i < p.n; ++i) adam_element(c, a, w[i], g[i], m[i], v[i]);
}
}  // namespace

void optimizer_step(const OptimizerConfig& c, int64_t step, float* w, const float* g, float* state, int64_t n) {
  const AdamStep a(c, step);
  const ParamSpan span{w, g, state, n};
#pragma omp parallel
  update_span(c, a, span);
}

void optimizer_step(const OptimizerConfig& c, int64_t step, const ParamSpan& first, const ParamSpan& second) {
  const AdamStep a(c, step);
#pragma omp parallel
  {
    update_span(c, a, first);
    update_span(c, a, second);
  }
}

}  // namespace ffb
