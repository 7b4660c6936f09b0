// Helpers shared by the micro-benchmark files.
#pragma once
#include <benchmark/benchmark.h>

#include <vector>

#include "algorithms/backend/arena.hpp"
#include "algorithms/backend/engine.hpp"
#include "common/rng.hpp"

namespace ffb::micro {

// Operands aligned as the arena aligns the algorithms' buffers (ArenaAligned, arena.hpp).
using ffb::ArenaAligned;
using Floats = std::vector<float, ArenaAligned<float>>;
using Bytes = std::vector<char, ArenaAligned<char>>;

inline Floats random_floats(int64_t n, uint64_t seed) {
  Rng rng(seed);
  Floats v(static_cast<size_t>(n));
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
