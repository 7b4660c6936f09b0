// Backprop: every parameter's gradient against central finite differences of a plain double-
// precision forward pass; accuracy on the synthetic set.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "algorithms/registry.hpp"
#include "common/rng.hpp"
#include "tests/algorithm_helpers.hpp"

using namespace ffb;
using ffb::testing::buffer;

namespace {

// Mean softmax cross-entropy of an MLP (weights stored in x out), in double.
double naive_bp_loss(Algorithm& bp, const std::vector<int64_t>& sizes, const float* x, const int32_t* y, int64_t b) {
  double total = 0.0;
  for (int64_t i = 0; i < b; ++i) {
    std::vector<double> a(x + i * sizes[0], x + (i + 1) * sizes[0]);
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
      const float* w = buffer(bp, "layer" + std::to_string(l) + ".weight");
      const float* bias = buffer(bp, "layer" + std::to_string(l) + ".bias");
      std::vector<double> z(static_cast<size_t>(sizes[l + 1]));
      for (int64_t o = 0; o < sizes[l + 1]; ++o) {
        double acc = bias[o];
        for (int64_t in = 0; in < sizes[l]; ++in) acc += a[in] * w[in * sizes[l + 1] + o];
        z[o] = (l + 2 < sizes.size()) ? std::max(acc, 0.0) : acc;
      }
      a = z;
    }
    double max_logit = a[0], sum = 0.0;
    for (double v : a) max_logit = std::max(max_logit, v);
    for (double v : a) sum += std::exp(v - max_logit);
    total += std::log(sum) + max_logit - a[y[i]];
  }
  return total / static_cast<double>(b);
}

}  // namespace

TEST_CASE("bp: every parameter's gradient matches finite differences", "[bp]") {
  const int64_t b = 6;
  const std::vector<int64_t> sizes = {12, 9, 7, 5};
  ModelSpec spec;
  spec.input = 12;
  spec.hidden = {9, 7};
  spec.classes = 5;
  auto bp = create_algorithm("bp", {{"optimizer", "sgd"}, {"momentum", 0.0}});
  bp->setup(spec, b, 4);
  Rng rng(8);
  std::vector<float> x(static_cast<size_t>(b * 12));
  for (auto& v : x) v = rng.uniform();
  std::vector<int32_t> y = {0, 1, 2, 3, 4, 0};
  // The step leaves its gradients in the .grad buffers; they belong to the weights before its update,
  // so those are put back (a learning rate of 0 is not a valid option).
  std::vector<std::vector<float>> before;
  for (int l = 0; l < 3; ++l)
    for (const char* part : {"weight", "bias"}) {
      const float* p = buffer(*bp, "layer" + std::to_string(l) + "." + part);
      before.emplace_back(p, p + (std::string(part) == "weight" ? sizes[l] * sizes[l + 1] : sizes[l + 1]));
    }
  const double loss = bp->train_step(x.data(), y.data()).loss;
  size_t restored = 0;
  for (int l = 0; l < 3; ++l)
    for (const char* part : {"weight", "bias"}) {
      const auto& values = before[restored++];
      std::copy(values.begin(), values.end(), buffer(*bp, "layer" + std::to_string(l) + "." + part));
    }
  CHECK(loss == Approx(naive_bp_loss(*bp, sizes, x.data(), y.data(), b)).epsilon(1e-4));
  for (int l = 0; l < 3; ++l)
    for (const char* part : {"weight", "bias"}) {
      const std::string name = "layer" + std::to_string(l) + "." + part;
      float* param = buffer(*bp, name);
      const float* grad = buffer(*bp, name + ".grad");
      const int64_t count = std::string(part) == "weight" ? sizes[l] * sizes[l + 1] : sizes[l + 1];
      for (int64_t i = 0; i < count; ++i) {
        const float saved = param[i];
        const float step = 1e-3f;
        param[i] = saved + step;
        const double plus = naive_bp_loss(*bp, sizes, x.data(), y.data(), b);
        param[i] = saved - step;
        const double minus = naive_bp_loss(*bp, sizes, x.data(), y.data(), b);
        param[i] = saved;
        const double numeric = (plus - minus) / (2.0 * step);
        INFO(name << "[" << i << "] analytic " << grad[i] << " numeric " << numeric);
        REQUIRE(std::fabs(grad[i] - numeric) <= 2e-3 * (1.0 + std::fabs(numeric)));
      }
    }
}

TEST_CASE("bp: reaches high accuracy on the synthetic set", "[bp]") {
  auto data = ffb::testing::small_synthetic(4000, 1000);
  auto bp = create_algorithm("bp", {{"lr", 0.003}});
  bp->setup(ffb::testing::small_model({64, 64}), 50, 1);
  data::Batcher batcher(data.train, 50, 2);
  std::vector<float> x(50 * 64);
  std::vector<int32_t> y(50);
  for (int epoch = 0; epoch < 15; ++epoch) {
    batcher.start_epoch(epoch);
    while (batcher.next(x.data(), y.data()) > 0) bp->train_step(x.data(), y.data());
  }
  const auto eval = bp->evaluate(data.test.x.data(), data.test.y.data(), data.test.n, 0);
  INFO("bp synthetic test accuracy " << eval.accuracy);
  CHECK(eval.accuracy > 0.7);
}
