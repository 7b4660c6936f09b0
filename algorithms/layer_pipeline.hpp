// The optional component of an algorithm that trains as a pipeline across ranks (`--distributed
// pipeline`, algorithms/backend/communicator.hpp): each rank owns a block of layers. Only
// layer-local algorithms provide it (Algorithm::pipeline() is nullptr otherwise, and whenever the
// algorithm is not training in pipeline mode).
#pragma once
#include <cstdint>
#include <utility>

#include "algorithms/algorithm.hpp"

namespace ffb {

class LayerPipeline {
 public:
  virtual ~LayerPipeline() = default;
  // The layers this rank trains, [first, last).
  virtual std::pair<int64_t, int64_t> owned_layers() const = 0;
  // Completes the transfers still in flight (once, after the last step, or before stopping).
  virtual void finish_transfers() = 0;
  // Before an evaluation or saving: every rank gets every layer's current weights from its owner.
  virtual void gather_weights() = 0;
};

// The layers this rank trains: its pipeline block, else every layer.
inline std::pair<int64_t, int64_t> owned_layers(const Algorithm& algorithm) {
  if (const LayerPipeline* pipeline = algorithm.pipeline()) return pipeline->owned_layers();
  return {0, static_cast<int64_t>(algorithm.spec().hidden.size())};
}
inline void finish_transfers(const Algorithm& algorithm) {
  if (LayerPipeline* pipeline = algorithm.pipeline()) pipeline->finish_transfers();
}
inline void gather_weights(const Algorithm& algorithm) {
  if (LayerPipeline* pipeline = algorithm.pipeline()) pipeline->gather_weights();
}

}  // namespace ffb
