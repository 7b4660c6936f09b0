// Matmul GFLOP/s: oneDNN (the backend) beside Eigen and the plain-loop reference, on the shapes the
// algorithms use (B x D x H). Part of bench_micro (main.cpp).
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <vector>

#include "algorithms/backend/engine.hpp"
#include "bench/micro/common.hpp"
#include "algorithms/backend/matmul.hpp"
#include "algorithms/backend/reference.hpp"
#include "algorithms/backend/rng.hpp"

namespace {

using ffb::micro::random_floats;
using ffb::micro::set_counters;

ffb::MatmulShape shape_from(const benchmark::State& state) {
  ffb::MatmulShape s;
  s.m = state.range(0);
  s.k = state.range(1);
  s.n = state.range(2);
  return s;
}

void BM_matmul_onednn(benchmark::State& state) {
  const auto s = shape_from(state);
  auto a = random_floats(s.m * s.k, 1), b = random_floats(s.k * s.n, 2);
  std::vector<float> c(static_cast<size_t>(s.m * s.n));
  ffb::MatmulCache cache;
  const auto& op = cache.get(s);
  std::vector<char> scratch(static_cast<size_t>(op.scratchpad_bytes()) + 64);
  for (auto _ : state) {
    op.run(a.data(), b.data(), c.data(), nullptr, scratch.data());
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s.flops());
  state.SetLabel(op.implementation());
}

void BM_matmul_eigen(benchmark::State& state) {
  const auto s = shape_from(state);
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  RowMajor a = Eigen::Map<RowMajor>(random_floats(s.m * s.k, 1).data(), s.m, s.k);
  RowMajor b = Eigen::Map<RowMajor>(random_floats(s.k * s.n, 2).data(), s.k, s.n);
  RowMajor c(s.m, s.n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s.flops());
}

void BM_matmul_reference(benchmark::State& state) {
  const auto s = shape_from(state);
  auto a = random_floats(s.m * s.k, 1), b = random_floats(s.k * s.n, 2);
  std::vector<float> c(static_cast<size_t>(s.m * s.n));
  for (auto _ : state) {
    ffb::ref::matmul(s, a.data(), b.data(), c.data());
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s.flops());
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "D", "H"});
  b->Args({256, 784, 2000})->Args({256, 2000, 2000})->Args({1024, 2000, 2000});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_matmul_onednn)->Apply(shapes);
BENCHMARK(BM_matmul_eigen)->Apply(shapes);
BENCHMARK(BM_matmul_reference)->Apply(shapes)->Iterations(1);

