// bench_micro: Google Benchmark micro-benchmarks of ffbench (matmul, kernels, and the registry's
// algorithms), with our own context in the JSON output.
// Run: [OMP_NUM_THREADS=N] build/release/bench/bench_micro [--benchmark_filter=REGEX] [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/matmul.hpp"
#include "bench/build_info.hpp"

namespace ffb::micro {
void register_algorithm_benchmarks();
}

int main(int argc, char** argv) {
  // Every core unless OMP_NUM_THREADS names a count (a 1-thread profile, a thread-scaling check).
  const char* omp_threads = std::getenv("OMP_NUM_THREADS");
  ffb::set_threads(omp_threads != nullptr && std::atoi(omp_threads) > 0 ? std::atoi(omp_threads) : 0);
  benchmark::AddCustomContext("ffbench_revision", ffb::build_revision());
  benchmark::AddCustomContext("build_type", FFB_BUILD_TYPE);
  benchmark::AddCustomContext("onednn_version", ffb::onednn_version());
  benchmark::AddCustomContext("onednn_isa", ffb::onednn_isa());
  benchmark::AddCustomContext("threading", ffb::threading_description());
  ffb::micro::register_algorithm_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
