// What the harness and an algorithm exchange: the model's shape, one step's statistics, an
// evaluation's result. Shape vocabulary: B batch, D input size, H hidden size, K classes, L layers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ffb {

constexpr int kMaxLayers = 64;

struct ModelSpec {
  int64_t input = 784;               // D
  std::vector<int64_t> hidden;       // H per hidden layer; depth L = hidden.size()
  int classes = 10;                  // K
  std::string describe() const;      // e.g. "[784,500,500]->10"
};

// What one training step did. Fixed-size so returning it allocates nothing.
struct StepStats {
  double loss = 0.0;                 // the algorithm's training objective, averaged over the batch
  double classifier_loss = 0.0;      // FF: loss of the softmax classifier trained alongside
  int layers = 0;                    // entries used in the per-layer arrays (0 for end-to-end losses)
  float layer_loss[kMaxLayers] = {};
  // Per-layer diagnostics: FF's mean positive / negative goodness; other local algorithms put the
  // activity measure their README names here (mono_forward: sum of squares, in goodness_pos only).
  // The harness calls a layer dead when both stay 0 for an epoch.
  float goodness_pos[kMaxLayers] = {};
  float goodness_neg[kMaxLayers] = {};
  int64_t samples = 0;
};

struct Evaluation {
  double accuracy = 0.0;
  double loss = 0.0;  // mean cross-entropy of the mode's class scores
  int64_t samples = 0;
};

enum class Phase { train, inference };

}  // namespace ffb
