// Pieces shared by the algorithms: a linear layer's parameters planned in the arena (weights,
// gradients, optimizer state), PyTorch-style initialisation, and a padded-input helper.
#pragma once
#include <cstdint>
#include <string>

#include "algorithms/algorithm.hpp"
#include "algorithms/backend/optimizer.hpp"
#include "common/rng.hpp"

namespace ffb {

// A matrix as the training products read it: its bfloat16 copy when one was planned (bf16
// precision), else the f32 values.
inline const void* matmul_view(const Arena& arena, BufferId values, BufferId bf16_copy) {
  return bf16_copy.valid() ? arena.raw(bf16_copy) : static_cast<const void*>(arena.floats(values));
}

// W is stored in x out (row-major), so the forward product is X (B x in) * W with no transpose.
struct LinearParams {
  int64_t in = 0, out = 0;
  BufferId weight, bias, weight_grad, bias_grad, weight_state, bias_state;

  void plan(MemoryPlan& plan, const std::string& name, int64_t in_size, int64_t out_size, OptimizerKind kind);
  // U(-1/sqrt(in), 1/sqrt(in)) for weights and bias, as torch.nn.Linear does.
  void init(Arena& arena, Rng& rng) const;
  void update(Arena& arena, const OptimizerConfig& config, int64_t step) const;
  void zero_grads(Arena& arena) const;

  // bf16 training: a bfloat16 working copy of W (scratch), refreshed from the f32 master after
  // every update.
  BufferId weight_bf16;
  void plan_bf16(MemoryPlan& plan, const std::string& name);
  void refresh_bf16(Arena& arena) const;
  // W as the training products read it: the bf16 copy when one is planned, else the f32 weights.
  const void* matmul_weight(const Arena& arena) const { return matmul_view(arena, weight, weight_bf16); }
};

// An activation as a training product reads it. f32: the values themselves. bf16: a bfloat16 copy
// made into a buffer planned here. The precision is fixed when it is planned, so a step calls
// `prepare` (and marks it live and dead) and never branches on precision.
struct MatmulOperand {
  BufferId copy;         // bf16 only
  int64_t capacity = 0;  // values the copy holds

  void plan(MemoryPlan& plan, const std::string& name, int64_t values, bool bf16);
  // The operand for `values` (count values): converted into the copy when bf16, else `values`.
  const void* prepare(const Arena& arena, const float* values, int64_t count) const;
  // The operand a previous prepare of the same values made (no conversion).
  const void* prepared(const Arena& arena, const float* values) const {
    return copy.valid() ? arena.raw(copy) : static_cast<const void*>(values);
  }
  void mark_live(Arena& arena) const {
    if (copy.valid()) arena.mark_live(copy);
  }
  void mark_dead(Arena& arena) const {
    if (copy.valid()) arena.mark_dead(copy);
  }
};

// "f32" or "bf16" (bf16 matmul inputs in the training step, f32 accumulation and master weights).
bool bf16_precision(const Options& options);

OptimizerConfig optimizer_from(const Options& options, const std::string& lr_option = "lr");

// Options every algorithm shares (optimizer, lr, momentum, weight_decay, lr_decay_start, precision).
void add_optimizer_options(std::vector<OptionInfo>& options, double default_lr, const std::string& default_optimizer);

// The learning-rate factor of an epoch (0-based) of `total_epochs` under `lr_decay_start` = s (0: constant):
// 1 for the first s epochs, then a linear decay that reaches 0 at the end of the last epoch, each epoch
// taking the value at its middle: (total - epoch - 0.5) / (total - s). For s = total / 2 this is the
// matlab code's (1 + 2 (total - e)) / total with e the 1-based epoch. Constant when total <= s.
double lr_decay_factor(int64_t decay_start, int64_t epoch, int64_t total_epochs);

}  // namespace ffb
