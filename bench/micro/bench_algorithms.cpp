// Benchmark families generated from the registry: train_step/<algorithm>/batch:B/depth:L/width:W
// and predict/<algorithm>/<mode>, with items/s (samples) and GFLOP/s from the analytic FLOPs.
// A newly registered algorithm gets its benchmarks with no change here.
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include "algorithms/registry.hpp"
#include "algorithms/ff/ff.hpp"
#include "bench/micro/common.hpp"

namespace ffb::micro {

namespace {

struct Config {
  int64_t batch, depth, width;
};

void run_train(benchmark::State& state, const std::string& algorithm, Config c) {
  auto model = create_algorithm(algorithm, {});
  ModelSpec spec{784, std::vector<int64_t>(static_cast<size_t>(c.depth), c.width), 10};
  model->setup(spec, c.batch, 1);
  auto x = random_floats(c.batch * 784, 3);
  for (auto& v : x) v += 0.5f;
  std::vector<int32_t> y(static_cast<size_t>(c.batch));
  for (int64_t i = 0; i < c.batch; ++i) y[static_cast<size_t>(i)] = static_cast<int32_t>(i % 10);
  model->train_step(x.data(), y.data());  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(model->train_step(x.data(), y.data()).loss);
  state.SetItemsProcessed(state.iterations() * c.batch);
  set_counters(state, model->flops_per_sample(Phase::train) * static_cast<double>(c.batch));
}

void run_predict(benchmark::State& state, const std::string& algorithm, int mode, Config c) {
  auto model = create_algorithm(algorithm, {});
  ModelSpec spec{784, std::vector<int64_t>(static_cast<size_t>(c.depth), c.width), 10};
  model->setup(spec, c.batch, 1);
  auto x = random_floats(c.batch * 784, 3);
  for (auto& v : x) v += 0.5f;
  std::vector<float> scores(static_cast<size_t>(c.batch * 10));
  model->scores(x.data(), c.batch, mode, scores.data());
  for (auto _ : state) {
    model->scores(x.data(), c.batch, mode, scores.data());
    benchmark::DoNotOptimize(scores.data());
  }
  state.SetItemsProcessed(state.iterations() * c.batch);
  set_counters(state, model->flops_per_sample(Phase::inference, mode) * static_cast<double>(c.batch));
}

// Goodness prediction the plain way (one full pass per label): what the shared first-layer product
// and the batched label passes save, measured beside predict/ff/goodness.
void run_goodness_naive(benchmark::State& state, Config c) {
  ForwardForward model({});
  ModelSpec spec{784, std::vector<int64_t>(static_cast<size_t>(c.depth), c.width), 10};
  model.setup(spec, c.batch, 1);
  auto x = random_floats(c.batch * 784, 3);
  for (auto& v : x) v += 0.5f;
  std::vector<float> scores(static_cast<size_t>(c.batch * 10));
  model.scores_goodness_naive(x.data(), c.batch, scores.data());
  for (auto _ : state) {
    model.scores_goodness_naive(x.data(), c.batch, scores.data());
    benchmark::DoNotOptimize(scores.data());
  }
  state.SetItemsProcessed(state.iterations() * c.batch);
}

}  // namespace

void register_algorithm_benchmarks() {
  const Config train_configs[] = {{128, 2, 500}, {256, 2, 500}, {256, 2, 1000}, {256, 2, 2000}, {128, 4, 500}};
  const Config predict_config{128, 2, 500};
  benchmark::RegisterBenchmark("predict/ff/goodness-naive", [c = predict_config](benchmark::State& s) { run_goodness_naive(s, c); })
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  for (const auto& info : registered_algorithms()) {
    for (const auto& c : train_configs) {
      const std::string name = fmt::format("train_step/{}/batch:{}/depth:{}/width:{}", info.name, c.batch, c.depth, c.width);
      benchmark::RegisterBenchmark(name.c_str(), [algorithm = info.name, c](benchmark::State& s) { run_train(s, algorithm, c); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
    const auto modes = info.create({})->prediction_modes();
    for (size_t m = 0; m < modes.size(); ++m) {
      const std::string name = fmt::format("predict/{}/{}", info.name, modes[m]);
      benchmark::RegisterBenchmark(name.c_str(), [algorithm = info.name, m, c = predict_config](benchmark::State& s) {
        run_predict(s, algorithm, static_cast<int>(m), c);
      })->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace ffb::micro
