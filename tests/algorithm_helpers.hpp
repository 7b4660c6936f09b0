// Helpers shared by the algorithm tests: a small synthetic problem, buffer look-up by name.
#pragma once
#include <stdexcept>
#include <string>

#include "algorithms/registry.hpp"
#include "datasets/dataset.hpp"

namespace ffb::testing {

inline float* buffer(Algorithm& algorithm, const std::string& name) {
  const auto& entries = algorithm.arena().plan().entries();
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].name == name) return algorithm.arena().floats(BufferId{static_cast<int>(i)});
  throw std::out_of_range("no buffer named " + name);
}

// A small synthetic task that runs quickly under the sanitizers: D = 64, K = 10.
inline data::Splits small_synthetic(int64_t train = 2000, int64_t test = 500, uint64_t seed = 3) {
  data::DatasetSpec spec;
  spec.name = "synthetic";
  spec.synthetic_d = 64;
  spec.synthetic_k = 10;
  spec.synthetic_train = train;
  spec.synthetic_test = test;
  spec.seed = seed;
  return data::load(spec);
}

inline ModelSpec small_model(std::vector<int64_t> hidden = {32, 24}) {
  ModelSpec spec;
  spec.input = 64;
  spec.hidden = std::move(hidden);
  spec.classes = 10;
  return spec;
}

}  // namespace ffb::testing
