// Helpers shared by the micro-benchmark files.
#pragma once
#include <benchmark/benchmark.h>

#include <new>
#include <vector>

#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/tensor.hpp"
#include "common/rng.hpp"

namespace ffb::micro {

// Operands aligned as the arena aligns the algorithms' buffers (kAlignment): a std::vector's large
// allocation starts 16 bytes past a page, which alone slows AVX2's gemm:jit by 4-7 %.
template <class T>
struct ArenaAligned {
  using value_type = T;
  ArenaAligned() = default;
  template <class U>
  ArenaAligned(const ArenaAligned<U>&) {}
  T* allocate(size_t n) {
    void* p = ::operator new(n * sizeof(T), std::align_val_t{static_cast<size_t>(kAlignment)});
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{static_cast<size_t>(kAlignment)}); }
  template <class U>
  bool operator==(const ArenaAligned<U>&) const { return true; }
};
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
