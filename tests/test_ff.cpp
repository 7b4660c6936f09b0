// Forward-Forward (and SymBa): each layer's local gradient against finite differences of a plain
// implementation, negatives never carrying the true label, both prediction modes against naive
// implementations, the layer-wise schedule, and learning on the synthetic set.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <vector>

#include "algorithms/backend/engine.hpp"
#include "algorithms/ff/ff.hpp"
#include "tests/algorithm_helpers.hpp"

using namespace ffb;
using ffb::testing::buffer;

namespace {

constexpr int64_t D = 16, K = 4;

// Plain double-precision FF pieces (l2 norm with eps 1e-4, mean goodness, label value 1).
std::vector<double> embed(const float* x, int label) {
  std::vector<double> row(x, x + D);
  for (int c = 0; c < K; ++c) row[c] = label < 0 ? 1.0 / K : (c == label ? 1.0 : 0.0);
  return row;
}

std::vector<double> layer(Algorithm& ff, int l, const std::vector<double>& input, int64_t out) {
  const float* w = buffer(ff, "layer" + std::to_string(l) + ".weight");
  const float* bias = buffer(ff, "layer" + std::to_string(l) + ".bias");
  double norm = 0.0;
  for (double v : input) norm += v * v;
  const double s = 1.0 / (std::sqrt(norm) + 1e-4);
  const int64_t in = static_cast<int64_t>(input.size());
  std::vector<double> h(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    double acc = bias[o];
    for (int64_t i = 0; i < in; ++i) acc += input[i] * s * w[i * out + o];
    h[o] = std::max(acc, 0.0);
  }
  return h;
}

double goodness(const std::vector<double>& h) {
  double g = 0.0;
  for (double v : h) g += v * v;
  return g / static_cast<double>(h.size());
}

double softplus(double v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); }

// Layer l's local loss for given positives/negatives; layers below are constants.
double naive_layer_loss(Algorithm& ff, const std::vector<int64_t>& hidden, int target, const std::vector<float>& x,
                        const std::vector<int32_t>& pos, const int32_t* neg, int64_t b, bool symba) {
  double total = 0.0;
  for (int64_t i = 0; i < b; ++i) {
    double g[2];
    for (int side = 0; side < 2; ++side) {
      auto a = embed(x.data() + i * D, side == 0 ? pos[i] : neg[i]);
      for (int l = 0; l <= target; ++l) a = layer(ff, l, a, hidden[l]);
      g[side] = goodness(a);
    }
    if (symba) total += softplus(-4.0 * (g[0] - g[1]));
    else total += softplus(2.0 - g[0]) + softplus(g[1] - 2.0);
  }
  return total / static_cast<double>(symba ? b : 2 * b);
}

}  // namespace

TEST_CASE("ff and ff_symba: each layer's local gradient matches finite differences", "[ff]") {
  for (const char* name : {"ff", "ff_symba"}) {
    INFO(name);
    const bool symba = std::string(name) == "ff_symba";
    const int64_t b = 5;
    const std::vector<int64_t> hidden = {8, 6};
    ModelSpec spec{D, hidden, K};
    auto ff = create_algorithm(name, {{"optimizer", "sgd"}, {"lr", 0.0}, {"momentum", 0.0}, {"classifier", false},
                                      {"goodness", "mean"}, {"norm", "l2"}});
    if (!symba) ff = create_algorithm(name, {{"optimizer", "sgd"}, {"lr", 0.0}, {"momentum", 0.0}, {"classifier", false},
                                             {"goodness", "mean"}, {"norm", "l2"}, {"threshold", 2.0}});
    ff->setup(spec, b, 11);
    Rng rng(2);
    std::vector<float> x(static_cast<size_t>(b * D));
    for (auto& v : x) v = rng.uniform();
    std::vector<int32_t> y = {0, 1, 2, 3, 1};
    const auto stats = ff->train_step(x.data(), y.data());
    const int32_t* neg = static_cast<ForwardForward&>(*ff).last_negative_labels();
    std::vector<int32_t> negatives(neg, neg + b);
    for (int l = 0; l < 2; ++l) {
      CHECK(stats.layer_loss[l] == Approx(naive_layer_loss(*ff, hidden, l, x, y, negatives.data(), b, symba)).epsilon(1e-4));
      const int64_t in = l == 0 ? D : hidden[0];
      for (const char* part : {"weight", "bias"}) {
        const std::string param_name = "layer" + std::to_string(l) + "." + part;
        float* param = buffer(*ff, param_name);
        const float* grad = buffer(*ff, param_name + ".grad");
        const int64_t count = std::string(part) == "weight" ? in * hidden[l] : hidden[l];
        for (int64_t i = 0; i < count; ++i) {
          const float saved = param[i], step = 1e-3f;
          param[i] = saved + step;
          const double plus = naive_layer_loss(*ff, hidden, l, x, y, negatives.data(), b, symba);
          param[i] = saved - step;
          const double minus = naive_layer_loss(*ff, hidden, l, x, y, negatives.data(), b, symba);
          param[i] = saved;
          const double numeric = (plus - minus) / (2.0 * step);
          INFO(param_name << "[" << i << "] analytic " << grad[i] << " numeric " << numeric);
          REQUIRE(std::fabs(grad[i] - numeric) <= 2e-3 * (1.0 + std::fabs(numeric)));
        }
      }
    }
  }
}

TEST_CASE("ff: negatives never carry the true label, for both samplers", "[ff]") {
  auto data = ffb::testing::small_synthetic(640, 100);
  for (const char* sampler : {"uniform", "hard"}) {
    INFO(sampler);
    auto ff = create_algorithm("ff", {{"negatives", sampler}});
    ff->setup(ffb::testing::small_model(), 32, 5);
    data::Batcher batcher(data.train, 32, 1);
    std::vector<float> x(32 * 64);
    std::vector<int32_t> y(32);
    std::set<std::pair<int, int>> seen;
    for (int epoch = 0; epoch < 3; ++epoch) {
      batcher.start_epoch(epoch);
      while (batcher.next(x.data(), y.data()) > 0) {
        ff->train_step(x.data(), y.data());
        const int32_t* neg = static_cast<ForwardForward&>(*ff).last_negative_labels();
        for (int i = 0; i < 32; ++i) {
          REQUIRE(neg[i] != y[i]);
          REQUIRE(neg[i] >= 0);
          REQUIRE(neg[i] < 10);
          seen.insert({y[i], neg[i]});
        }
      }
    }
    // The uniform sampler reaches every wrong label of every class.
    if (std::string(sampler) == "uniform") CHECK(seen.size() == 90);
  }
}

TEST_CASE("ff: both prediction modes agree with naive implementations", "[ff]") {
  const int64_t b = 6;
  const std::vector<int64_t> hidden = {10, 8, 7};
  ModelSpec spec{D, hidden, K};
  auto algorithm = create_algorithm("ff", {{"lr", 0.01}, {"classifier_lr", 0.05}, {"goodness", "mean"}, {"norm", "l2"}});
  auto& ff = static_cast<ForwardForward&>(*algorithm);
  ff.setup(spec, b, 3);
  Rng rng(4);
  std::vector<float> x(static_cast<size_t>(b * D));
  std::vector<int32_t> y(b);
  for (int step = 0; step < 20; ++step) {  // train a little so the classifier is not all zeros
    for (auto& v : x) v = rng.uniform();
    for (auto& v : y) v = static_cast<int32_t>(rng.below(K));
    ff.train_step(x.data(), y.data());
  }
  const int64_t rows = b - 1;  // a partial batch exercises the padding path
  std::vector<float> fast(b * K), plain(b * K);
  // Goodness: one pass per label, summing all layers but the first.
  ff.scores(x.data(), rows, 0, fast.data());
  for (int64_t i = 0; i < rows; ++i)
    for (int label = 0; label < K; ++label) {
      auto a = embed(x.data() + i * D, label);
      double total = 0.0;
      for (int l = 0; l < 3; ++l) {
        a = layer(ff, l, a, hidden[l]);
        if (l >= 1) total += goodness(a);
      }
      INFO("row " << i << " label " << label);
      CHECK(fast[i * K + label] == Approx(total).epsilon(1e-4).margin(1e-6));
    }
  ff.scores_goodness_naive(x.data(), rows, plain.data());
  for (int64_t i = 0; i < rows * K; ++i) CHECK(fast[i] == Approx(plain[i]).epsilon(1e-4).margin(1e-6));
  // Softmax: neutral label, normalised activities of layers 2 and 3, linear classifier.
  ff.scores(x.data(), rows, 1, fast.data());
  const float* wc = buffer(ff, "classifier.weight");
  const float* bc = buffer(ff, "classifier.bias");
  for (int64_t i = 0; i < rows; ++i) {
    auto a = embed(x.data() + i * D, -1);
    std::vector<double> logits(bc, bc + K);
    int64_t offset = 0;
    for (int l = 0; l < 3; ++l) {
      a = layer(ff, l, a, hidden[l]);
      if (l == 0) continue;
      double norm = 0.0;
      for (double v : a) norm += v * v;
      const double s = 1.0 / (std::sqrt(norm) + 1e-4);
      for (int64_t j = 0; j < hidden[l]; ++j)
        for (int c = 0; c < K; ++c) logits[c] += a[j] * s * wc[(offset + j) * K + c];
      offset += hidden[l];
    }
    for (int c = 0; c < K; ++c) CHECK(fast[i * K + c] == Approx(logits[c]).epsilon(1e-4).margin(1e-5));
  }
}

TEST_CASE("ff: the layer-wise schedule trains one layer at a time", "[ff]") {
  auto ff = create_algorithm("ff", {{"schedule", "layerwise"}, {"layer_steps", 2}, {"classifier", false}});
  ff->setup(ffb::testing::small_model(), 16, 1);
  auto data = ffb::testing::small_synthetic(200, 50);
  std::vector<float> x(16 * 64);
  std::vector<int32_t> y(16);
  data::Batcher batcher(data.train, 16, 1);
  std::vector<float> w1(buffer(*ff, "layer1.weight"), buffer(*ff, "layer1.weight") + 32 * 24);
  std::vector<float> w0(buffer(*ff, "layer0.weight"), buffer(*ff, "layer0.weight") + 64 * 32);
  for (int step = 0; step < 2; ++step) {
    batcher.next(x.data(), y.data());
    ff->train_step(x.data(), y.data());
  }
  CHECK(std::vector<float>(buffer(*ff, "layer1.weight"), buffer(*ff, "layer1.weight") + 32 * 24) == w1);
  CHECK(std::vector<float>(buffer(*ff, "layer0.weight"), buffer(*ff, "layer0.weight") + 64 * 32) != w0);
  w0.assign(buffer(*ff, "layer0.weight"), buffer(*ff, "layer0.weight") + 64 * 32);
  for (int step = 0; step < 2; ++step) {
    batcher.next(x.data(), y.data());
    ff->train_step(x.data(), y.data());
  }
  CHECK(std::vector<float>(buffer(*ff, "layer1.weight"), buffer(*ff, "layer1.weight") + 32 * 24) != w1);
  CHECK(std::vector<float>(buffer(*ff, "layer0.weight"), buffer(*ff, "layer0.weight") + 64 * 32) == w0);
}

namespace {
// Batches of 16 from a small synthetic set, in a fixed order.
struct Batches16 {
  data::Splits data = ffb::testing::small_synthetic(200, 50);
  std::vector<float> x = std::vector<float>(16 * 64);
  std::vector<int32_t> y = std::vector<int32_t>(16);
  data::Batcher batcher{data.train, 16, 1};
  void next() { batcher.next(x.data(), y.data()); }
};

std::vector<float> copy_of(Algorithm& a, const std::string& name, size_t count) {
  const float* p = buffer(a, name);
  return std::vector<float>(p, p + count);
}
double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  return worst;
}
}  // namespace

TEST_CASE("ff: the pipelined schedule trains layer l on the batch layer l-1 saw one step earlier", "[ff]") {
  // Simultaneous step 1: layer 1 learns from batch 1 through layer 0's initial weights. Pipelined:
  // layer 1 waits in step 1 and learns from exactly that input in step 2. Same seed, same
  // negatives, so pipelined layer 1 after step 2 equals simultaneous layer 1 after step 1.
  const nlohmann::json common = {{"classifier", false}, {"momentum", 0.0}, {"lr", 0.05}};
  nlohmann::json pipelined_options = common;
  pipelined_options["schedule"] = "pipelined";
  auto simultaneous = create_algorithm("ff", common);
  auto pipelined = create_algorithm("ff", pipelined_options);
  simultaneous->setup(ffb::testing::small_model(), 16, 3);
  pipelined->setup(ffb::testing::small_model(), 16, 3);
  Batches16 batches;
  const auto w1_initial = copy_of(*pipelined, "layer1.weight", 32 * 24);
  batches.next();
  simultaneous->train_step(batches.x.data(), batches.y.data());
  pipelined->train_step(batches.x.data(), batches.y.data());
  CHECK(copy_of(*pipelined, "layer1.weight", 32 * 24) == w1_initial);  // the pipeline is filling
  CHECK(max_difference(copy_of(*pipelined, "layer0.weight", 64 * 32), copy_of(*simultaneous, "layer0.weight", 64 * 32)) < 1e-6);
  const auto w1_simultaneous = copy_of(*simultaneous, "layer1.weight", 32 * 24);
  const auto b1_simultaneous = copy_of(*simultaneous, "layer1.bias", 24);
  REQUIRE(max_difference(w1_simultaneous, w1_initial) > 1e-4);  // the step did move layer 1
  batches.next();
  pipelined->train_step(batches.x.data(), batches.y.data());
  CHECK(max_difference(copy_of(*pipelined, "layer1.weight", 32 * 24), w1_simultaneous) < 1e-6);
  CHECK(max_difference(copy_of(*pipelined, "layer1.bias", 24), b1_simultaneous) < 1e-6);
}

TEST_CASE("ff: the pipelined schedule gives the same numbers on 1 thread and on 2", "[ff]") {
  const int saved = threads();
  std::vector<double> losses[2];
  std::vector<float> weights[2];
  for (int run = 0; run < 2; ++run) {
    set_threads(run + 1);
    auto ff = create_algorithm("ff", {{"schedule", "pipelined"}});
    ff->setup(ffb::testing::small_model({32, 24, 16}), 16, 9);
    Batches16 batches;
    for (int step = 0; step < 6; ++step) {
      batches.next();
      losses[run].push_back(ff->train_step(batches.x.data(), batches.y.data()).loss);
    }
    weights[run] = copy_of(*ff, "layer2.weight", 24 * 16);
  }
  set_threads(saved);
  CHECK(losses[0] == losses[1]);
  CHECK(weights[0] == weights[1]);
}

TEST_CASE("ff: recomputing the classifier's features trains exactly as keeping them, in flat memory", "[ff]") {
  std::vector<double> losses[2];
  std::vector<float> classifier[2];
  int64_t live[2][2] = {};
  for (int run = 0; run < 2; ++run) {
    for (int depth_index = 0; depth_index < 2; ++depth_index) {
      const std::vector<int64_t> hidden = depth_index == 0 ? std::vector<int64_t>{32, 32} : std::vector<int64_t>{32, 32, 32, 32};
      auto ff = create_algorithm("ff", {{"negatives", "hard"}, {"classifier_features", run == 0 ? "keep" : "recompute"}});
      ff->setup(ffb::testing::small_model(hidden), 16, 4);
      Batches16 batches;
      for (int step = 0; step < 5; ++step) {
        batches.next();
        const auto stats = ff->train_step(batches.x.data(), batches.y.data());
        if (depth_index == 0) losses[run].push_back(stats.loss + stats.classifier_loss);
      }
      if (depth_index == 0) classifier[run] = copy_of(*ff, "classifier.weight", 32 * 10);
      live[run][depth_index] = ff->arena().peak_live_activation_bytes();
    }
  }
  CHECK(losses[0] == losses[1]);
  CHECK(classifier[0] == classifier[1]);
  INFO("peak live bytes, keep: " << live[0][0] << " -> " << live[0][1] << ", recompute: " << live[1][0] << " -> " << live[1][1]);
  CHECK(live[0][1] > live[0][0]);   // keeping: two more layers' features
  CHECK(live[1][1] == live[1][0]);  // recomputing: flat in depth
}

TEST_CASE("ff and ff_symba: accuracy rises far above chance on the synthetic set", "[ff]") {
  auto data = ffb::testing::small_synthetic(4000, 1000);
  for (const char* name : {"ff", "ff_symba"}) {
    auto ff = create_algorithm(name, {});
    ff->setup(ffb::testing::small_model({64, 64}), 50, 1);
    data::Batcher batcher(data.train, 50, 2);
    std::vector<float> x(50 * 64);
    std::vector<int32_t> y(50);
    for (int epoch = 0; epoch < 8; ++epoch) {
      batcher.start_epoch(epoch);
      while (batcher.next(x.data(), y.data()) > 0) ff->train_step(x.data(), y.data());
    }
    for (int mode = 0; mode < 2; ++mode) {
      const auto eval = ff->evaluate(data.test.x.data(), data.test.y.data(), data.test.n, mode);
      INFO(name << " mode " << ff->prediction_modes()[mode] << " accuracy " << eval.accuracy);
      CHECK(eval.accuracy > 0.3);  // chance is 0.1
    }
  }
}

TEST_CASE("ff: impossible set-ups are clear errors", "[ff]") {
  CHECK_THROWS_WITH(create_algorithm("ff", {{"negatives", "hard"}, {"classifier", false}}),
                    Catch::Contains("need the classifier"));
  auto ff = create_algorithm("ff", {});
  CHECK_THROWS_WITH(ff->setup(ModelSpec{8, {4}, 10}, 4, 1), Catch::Contains("must exceed the class count"));
  CHECK_THROWS_WITH(ff->setup(ModelSpec{64, {}, 10}, 4, 1), Catch::Contains("at least one hidden layer"));
}
