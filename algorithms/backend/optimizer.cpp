// See optimizer.hpp. Update rules follow torch.optim.SGD (dampening 0) and torch.optim.Adam, so the
// PyTorch peers can reproduce the same steps.
#include "algorithms/backend/optimizer.hpp"

#include <cmath>
#include <stdexcept>

#include "algorithms/backend/parallel.hpp"

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

// The loop over one thread's share of one array (static_share: what schedule(static) gives it). The
// constants are copied into locals and the arrays marked restrict, so the vectorised loop keeps
// them in registers instead of reloading them every iteration (the arrays could otherwise alias
// the config): 1.3-1.4x faster on the Zen 5 VM, and the same operations in the same order, so the
// same bits. Per element, as torch.optim does it:
//   sgd:  grad = g + wd w;  velocity = momentum velocity + grad;  w -= lr velocity
//   adam: grad = g + wd w;  m = b1 m + (1 - b1) grad;  v = b2 v + (1 - b2) grad grad;
//         w -= step_size m / (sqrt(v) inv_sqrt_c2 + eps)
void update_span(const OptimizerConfig& c, const AdamStep& a, const ParamSpan& p, int thread, int team) {
  float* __restrict w = p.weights;
  const float* __restrict g = p.grads;
  const int64_t n = p.n;
  const Share share = static_share(n, thread, team);
  const float lr = c.lr, wd = c.weight_decay;
  if (c.kind == OptimizerKind::sgd) {
    float* __restrict velocity = p.state;
    const float momentum = c.momentum;
#pragma omp simd
    for (int64_t i = share.begin; i < share.end; ++i) {
      const float grad = g[i] + wd * w[i];
      velocity[i] = momentum * velocity[i] + grad;
      w[i] -= lr * velocity[i];
    }
    return;
  }
  float* __restrict m = p.state;
  float* __restrict v = p.state + n;
  const float b1 = c.beta1, one_minus_b1 = 1.0f - c.beta1, b2 = c.beta2, one_minus_b2 = 1.0f - c.beta2;
  const float step_size = a.step_size, inv_sqrt_c2 = a.inv_sqrt_c2, eps = c.eps;
#pragma omp simd
  for (int64_t i = share.begin; i < share.end; ++i) {
    const float grad = g[i] + wd * w[i];
    m[i] = b1 * m[i] + one_minus_b1 * grad;
    v[i] = b2 * v[i] + one_minus_b2 * grad * grad;
    w[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + eps);
  }
}
}  // namespace

void optimizer_step(const OptimizerConfig& c, int64_t step, float* w, const float* g, float* state, int64_t n) {
  const AdamStep a(c, step);
  const ParamSpan span{w, g, state, n};
  parallel_team([&](int thread, int team) { update_span(c, a, span, thread, team); });
}

void optimizer_step(const OptimizerConfig& c, int64_t step, const ParamSpan& first, const ParamSpan& second) {
  const AdamStep a(c, step);
  parallel_team([&](int thread, int team) {
    update_span(c, a, first, thread, team);
    update_span(c, a, second, thread, team);
  });
}

}  // namespace ffb
