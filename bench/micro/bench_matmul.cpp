// Matmul GFLOP/s: oneDNN (the backend) beside Eigen and the plain-loop reference, on the shapes the
// algorithms use (B x D x H). Run: build/release/bench/bench_matmul [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <vector>

#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/matmul.hpp"
#include "algorithms/backend/reference.hpp"
#include "algorithms/backend/rng.hpp"

namespace {

std::vector<float> random_floats(int64_t n, uint64_t seed) {
  ffb::Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = rng.uniform() - 0.5f;
  return v;
}

void set_counters(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * static_cast<double>(state.iterations()) * 1e-9,
                                                 benchmark::Counter::kIsRate);
  state.counters["threads"] = ffb::threads();
}

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

int main(int argc, char** argv) {
  ffb::set_threads(0);
  benchmark::AddCustomContext("ffbench_revision", FFB_GIT_REV);
  benchmark::AddCustomContext("build_type", FFB_BUILD_TYPE);
  benchmark::AddCustomContext("onednn_version", ffb::onednn_version());
  benchmark::AddCustomContext("onednn_isa", ffb::onednn_isa());
  benchmark::AddCustomContext("threading", ffb::threading_description());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
