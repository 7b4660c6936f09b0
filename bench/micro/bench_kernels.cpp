// The elementwise kernels on a B x H = 256 x 2000 activation, items/s in floats.
#include <benchmark/benchmark.h>

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

}  // namespace

BENCHMARK(BM_normalize_rms)->UseRealTime();
BENCHMARK(BM_goodness)->UseRealTime();
BENCHMARK(BM_bias_grad)->UseRealTime();
BENCHMARK(BM_relu_backward)->UseRealTime();
BENCHMARK(BM_optimizer)->ArgName("adam")->Arg(0)->Arg(1)->UseRealTime();
