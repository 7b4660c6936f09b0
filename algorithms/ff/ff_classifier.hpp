// Forward-Forward's softmax classifier (Hinton 2022, section 3.3), a component of ForwardForward: a
// linear layer on the neutral-label activities of the layers from `first_layer` on (by default all
// but the first), trained alongside them with softmax cross-entropy. It gives the "softmax"
// prediction mode and rates the wrong labels for hard and sampled negatives. It never reaches back
// into the layers: the layers' weights learn from their own goodness only.
//
// Per step, as ForwardForward drives it: the neutral pass hands it each layer's activity
// (add_layer: logits), then loss() (softmax, dLoss/dlogits), the weight gradient from the kept
// activities (or a second neutral pass handing them again, with gradient=true, under "recompute"),
// bias_gradient(), the ranks' mean of both gradients (data mode, by ForwardForward), update().
#pragma once
#include <cstdint>
#include <vector>

#include "algorithms/layers.hpp"

namespace ffb {

class SoftmaxClassifier {
 public:
  struct Config {
    int64_t batch = 0, classes = 0;
    std::vector<int64_t> widths;  // the hidden widths of every layer
    int64_t first_layer = 0;      // the first layer whose activity it reads
    bool keep_features = true;    // hold each activity until the gradient (else: recomputed)
    OptimizerConfig optimizer;
  };
  // Setup: its buffers (activities kept, parameters, logits, probabilities, their gradient)...
  void plan(MemoryPlan& plan, const Config& config);
  // ...and, after the layers' products, its own (logits accumulated layer by layer, weight gradient).
  void create_products(MatmulCache& matmuls);
  void init(Arena& arena) const;  // all zero: every class equally likely (the matlab code)

  int64_t first_layer() const { return config_.first_layer; }
  bool keeps_features() const { return config_.keep_features; }
  const LinearParams& params() const { return params_; }
  float* weight_grad(Arena& arena) const { return arena.floats(params_.weight_grad); }
  float* bias_grad(Arena& arena) const { return arena.floats(params_.bias_grad); }
  void set_lr(float lr) { config_.optimizer.lr = lr; }
  const float* logits(const Arena& arena) const { return arena.floats(logits_); }
  const float* probabilities(const Arena& arena) const { return arena.floats(probs_); }
  void probabilities_used(Arena& arena) const { arena.mark_dead(probs_); }

  // The neutral pass begins: the logits are about to be summed (not when recomputing for the gradient).
  void begin_pass(Arena& arena, bool gradient) const;
  // Where layer l's normalised neutral activity (B x H) goes: its kept buffer, or nullptr (the
  // caller's own buffer) when it is not kept or l feeds no feature.
  float* activity_buffer(Arena& arena, int64_t l) const;
  // Layer l's activity (B x H) enters the logits, or (gradient) the weight gradient.
  void add_layer(const Arena& arena, int64_t l, const float* activity, bool gradient, void* scratch) const;
  // Softmax cross-entropy on the logits (the returned loss) and dLoss/dlogits, for the labels.
  double loss(Arena& arena, const int32_t* labels) const;
  // The weight gradient from the kept activities (keeps_features() only).
  void weight_gradient_from_kept(Arena& arena, void* scratch) const;
  void bias_gradient(Arena& arena) const;
  void update(Arena& arena, int64_t step) const;

 private:
  int64_t feature(int64_t l) const { return l - config_.first_layer; }
  Config config_;
  LinearParams params_;
  std::vector<BufferId> features_;  // per feature layer: its neutral activity (B x H), when kept
  std::vector<int64_t> offsets_;    // per feature layer: where its rows start in W (floats)
  BufferId logits_, probs_, logits_grad_;  // B x K
  std::vector<const Matmul*> forward_, grad_;
};

}  // namespace ffb
