// Inference products reading packed weights (packed_weights.hpp).
#include "algorithms/packed_weights.hpp"

namespace ffb {

void PackedWeights::run(const Arena& arena, const InferenceProduct& product, const void* a, const float* w, float* c,
                        const float* bias, void* scratch, uint64_t weights_version) {
  if (product.packed == nullptr) {
    product.plain->run(a, w, c, bias, scratch);
    return;
  }
  void* packed = arena.raw(buffer);
  if (packed_for != product.packed || version != weights_version) {
    product.packed->pack_b(w, packed);
    packed_for = product.packed;
    version = weights_version;
  }
  product.packed->run(a, packed, c, bias, scratch);
}

}  // namespace ffb
