// Helpers shared by the micro-benchmark files.
#pragma once
#include <benchmark/benchmark.h>

#include <vector>

#include "algorithms/backend/engine.hpp"
#include "common/rng.hpp"

namespace ffb::micro {

inline std::vector<float> random_floats(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = rng.uniform() - 0.5f;
  return v;
}

// GFLOP/s as a rate counter from the FLOPs of one iteration, and the thread count.
inline void set_counters(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration * static_cast<double>(state.iterations()) * 1e-9,
                                                 benchmark::Counter::kIsRate);
  state.counters["threads"] = threads();
}

}  // namespace ffb::micro
