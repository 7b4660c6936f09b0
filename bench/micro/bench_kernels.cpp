// The elementwise kernels on a B x H = 256 x 2000 activation, items/s in floats.
#include <benchmark/benchmark.h>
#include <omp.h>


#include "algorithms/backend/ceiling.hpp"
#include "algorithms/backend/kernels.hpp"
#include "algorithms/backend/optimizer.hpp"
#include "bench/micro/common.hpp"

namespace {

using ffb::Mat;
constexpr int64_t B = 256, H = 2000;

void BM_normalize_rms(benchmark::State& state) {
  auto x = ffb::micro::random_floats(B * H, 1);
  std::vector<float> y(x.size()), scale(B);
  for (auto _ : state) {
    ffb::kern::normalize_forward(Mat(y.data(), B, H), scale.data(), Mat(x.data(), B, H), ffb::kern::NormKind::rms, 1e-4f);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * B * H);
}

void BM_goodness(benchmark::State& state) {
  auto h = ffb::micro::random_floats(B * H, 2);
  std::vector<float> g(B);
  for (auto _ : state) {
    ffb::kern::goodness_forward(g.data(), Mat(h.data(), B, H), false);
    benchmark::DoNotOptimize(g.data());
  }
  state.SetItemsProcessed(state.iterations() * B * H);
}

void BM_bias_grad(benchmark::State& state) {
  auto dy = ffb::micro::random_floats(B * H, 3);
  std::vector<float> db(H);
  for (auto _ : state) {
    ffb::kern::bias_grad_accumulate(db.data(), Mat(dy.data(), B, H));
    benchmark::DoNotOptimize(db.data());
  }
  state.SetItemsProcessed(state.iterations() * B * H);
}

void BM_relu_backward(benchmark::State& state) {
  auto dy = ffb::micro::random_floats(B * H, 4), y = ffb::micro::random_floats(B * H, 5);
  std::vector<float> dx(dy.size());
  for (auto _ : state) {
    ffb::kern::relu_backward(Mat(dx.data(), B, H), Mat(dy.data(), B, H), Mat(y.data(), B, H));
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetItemsProcessed(state.iterations() * B * H);
}

void BM_optimizer(benchmark::State& state) {
  ffb::OptimizerConfig config;
  config.kind = state.range(0) == 0 ? ffb::OptimizerKind::sgd : ffb::OptimizerKind::adam;
  const int64_t n = H * H;
  auto w = ffb::micro::random_floats(n, 6), g = ffb::micro::random_floats(n, 7);
  std::vector<float> s(static_cast<size_t>(2 * n), 0.0f);
  int64_t step = 0;
  for (auto _ : state) {
    ffb::optimizer_step(config, ++step, w.data(), g.data(), s.data(), n);
    benchmark::DoNotOptimize(w.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetLabel(ffb::to_string(config.kind));
}

// A write pass over an array after the threads read it: the cost of writing what the other cores
// hold. The weights of a training step are read by every thread (each thread's share of a product
// reads all of W) and then rewritten by the update; with arg 1 every thread reads the whole array
// first, with arg 0 only the half it will write. The timed part is the write pass alone (each
// thread updating its static half, as the optimizer splits it), 650,000 floats (the [784,500,500]
// model's weights, 2.6 MB). The ratio of the two is a property of the machine: the coherence
// traffic of invalidating lines cached by another core. Run with OMP_NUM_THREADS >= 2. Each
// iteration times both passes (measure_shared_write, the harness's own measurement) and reports one.
void BM_shared_write(benchmark::State& state) {
  const bool shared = state.range(0) == 1;
  for (auto _ : state) {
    const auto times = ffb::measure_shared_write(650000, 1);
    state.SetIterationTime(shared ? times.shared_seconds : times.own_seconds);
  }
  state.SetItemsProcessed(state.iterations() * 650000);
  state.counters["threads"] = omp_get_max_threads();
  state.SetLabel(shared ? "every thread read all of it" : "each thread read its own half");
}

}  // namespace

BENCHMARK(BM_shared_write)->ArgName("shared")->Arg(0)->Arg(1)->UseManualTime();
BENCHMARK(BM_normalize_rms)->UseRealTime();
BENCHMARK(BM_goodness)->UseRealTime();
BENCHMARK(BM_bias_grad)->UseRealTime();
BENCHMARK(BM_relu_backward)->UseRealTime();
BENCHMARK(BM_optimizer)->ArgName("adam")->Arg(0)->Arg(1)->UseRealTime();
