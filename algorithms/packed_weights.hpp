// Inference on fixed weights, read in oneDNN's preferred (packed) layout where that pays
// (algorithms/backend/ceiling.hpp: packing_choice). Algorithm::inference_op makes the products,
// Algorithm::plan_packed_weights plans the packed copy.
#pragma once
#include <cstdint>

#include "algorithms/backend/arena.hpp"
#include "algorithms/backend/matmul.hpp"

namespace ffb {

// An inference product (fixed weights, f32) and, when packing_choice chose it for this shape, its
// twin that reads the weights packed.
struct InferenceProduct {
  const Matmul* plain = nullptr;
  const Matmul* packed = nullptr;  // nullptr: the plain product runs
};

// One weight matrix packed for inference: a buffer planned once, refilled only when the weights
// changed since (the algorithm's weights version) or another product's layout is in it, so a whole
// evaluation packs each weight once.
struct PackedWeights {
  BufferId buffer;  // invalid: no product of this weight packs
  const Matmul* packed_for = nullptr;
  uint64_t version = 0;

  // C = A W (+ bias) (ReLU) as `product` says, reading W packed when its packed twin was chosen.
  void run(const Arena& arena, const InferenceProduct& product, const void* a, const float* w, float* c,
           const float* bias, void* scratch, uint64_t weights_version);
};

}  // namespace ffb
