// Forward-Forward (and SymBa): each layer's local gradient against finite differences of a plain
// implementation (the options the first test sets, and ff's defaults: sum goodness, RMS
// normalisation), the softmax classifier's and peer normalisation's gradients, options that must
// change the numbers (label_value, classifier_skip_first, layer_epochs, SymBa's alpha, the learning-
// rate decay), negatives never carrying the true label, both prediction modes against naive
// implementations, the schedules, and learning on the synthetic set.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "algorithms/backend/engine.hpp"
#include "algorithms/ff/ff.hpp"
#include "algorithms/layers.hpp"
#include "tests/algorithm_helpers.hpp"

using namespace ffb;
using ffb::testing::buffer;

namespace {

constexpr int64_t D = 16, K = 4;

// What the plain double-precision FF below computes. The defaults are the first test's options
// (l2 normalisation with eps 1e-4, mean goodness, threshold 2, label value 1); ff's own defaults
// are sum goodness, rms normalisation, threshold 1 per unit.
struct Naive {
  bool l2 = true;
  bool mean_goodness = true;
  double threshold = 2.0;     // per unit: times the width for sum goodness
  double label_value = 1.0;
  bool symba = false;
  double alpha = 4.0;
  double peer = 0.0;          // peer-normalisation weight; the running means start at 0 (first step)
};

std::vector<double> embed(const float* x, int label, double value = 1.0) {
  std::vector<double> row(x, x + D);
  for (int c = 0; c < K; ++c) row[c] = label < 0 ? value / K : (c == label ? value : 0.0);
  return row;
}

std::vector<double> normalized(const std::vector<double>& v, bool l2) {
  double sum = 0.0;
  for (double e : v) sum += e * e;
  const double s = 1.0 / (std::sqrt(l2 ? sum : sum / static_cast<double>(v.size())) + 1e-4);
  std::vector<double> out(v);
  for (double& e : out) e *= s;
  return out;
}

std::vector<double> layer(Algorithm& ff, int l, const std::vector<double>& input, int64_t out, bool l2 = true) {
  const float* w = buffer(ff, "layer" + std::to_string(l) + ".weight");
  const float* bias = buffer(ff, "layer" + std::to_string(l) + ".bias");
  const auto n = normalized(input, l2);
  const int64_t in = static_cast<int64_t>(input.size());
  std::vector<double> h(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    double acc = bias[o];
    for (int64_t i = 0; i < in; ++i) acc += n[i] * w[i * out + o];
    h[o] = std::max(acc, 0.0);
  }
  return h;
}

double goodness(const std::vector<double>& h, bool mean = true) {
  double g = 0.0;
  for (double v : h) g += v * v;
  return mean ? g / static_cast<double>(h.size()) : g;
}

double softplus(double v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); }

// Layer l's local loss for given positives/negatives; layers below are constants.
double naive_layer_loss(Algorithm& ff, const std::vector<int64_t>& hidden, int target, const std::vector<float>& x,
                        const std::vector<int32_t>& pos, const int32_t* neg, int64_t b, const Naive& cfg = {}) {
  const double theta = cfg.mean_goodness ? cfg.threshold : cfg.threshold * static_cast<double>(hidden[target]);
  double total = 0.0;
  std::vector<double> activity(static_cast<size_t>(hidden[target]), 0.0);  // sum over positives
  for (int64_t i = 0; i < b; ++i) {
    double g[2];
    for (int side = 0; side < 2; ++side) {
      auto a = embed(x.data() + i * D, side == 0 ? pos[i] : neg[i], cfg.label_value);
      for (int l = 0; l <= target; ++l) a = layer(ff, l, a, hidden[l], cfg.l2);
      g[side] = goodness(a, cfg.mean_goodness);
      if (side == 0)
        for (size_t j = 0; j < a.size(); ++j) activity[j] += a[j];
    }
    if (cfg.symba) total += softplus(-cfg.alpha * (g[0] - g[1]));
    else total += softplus(theta - g[0]) + softplus(g[1] - theta);
  }
  double loss = total / static_cast<double>(cfg.symba ? b : 2 * b);
  if (cfg.peer > 0.0) {
    // Running means after one step from 0 with momentum 0.9; loss peer * mean_j (mean(r) - r_j)^2.
    std::vector<double> running(activity.size());
    double mean = 0.0;
    for (size_t j = 0; j < running.size(); ++j) mean += running[j] = 0.1 * activity[j] / static_cast<double>(b);
    mean /= static_cast<double>(running.size());
    double spread = 0.0;
    for (double r : running) spread += (mean - r) * (mean - r);
    loss += cfg.peer * spread / static_cast<double>(running.size());
  }
  return loss;
}

// The softmax classifier's mean cross-entropy on the neutral pass: its features are the normalised
// activities of the layers from `first` on.
double naive_classifier_loss(Algorithm& ff, const std::vector<int64_t>& hidden, int first, const std::vector<float>& x,
                             const std::vector<int32_t>& labels, int64_t b, const Naive& cfg) {
  const float* wc = buffer(ff, "classifier.weight");
  const float* bc = buffer(ff, "classifier.bias");
  double total = 0.0;
  for (int64_t i = 0; i < b; ++i) {
    auto a = embed(x.data() + i * D, -1, cfg.label_value);
    std::vector<double> logits(bc, bc + K);
    int64_t offset = 0;
    for (int l = 0; l < static_cast<int>(hidden.size()); ++l) {
      a = layer(ff, l, a, hidden[l], cfg.l2);
      if (l < first) continue;
      const auto feature = normalized(a, cfg.l2);
      for (int64_t j = 0; j < hidden[l]; ++j)
        for (int c = 0; c < K; ++c) logits[c] += feature[j] * wc[(offset + j) * K + c];
      offset += hidden[l];
    }
    double top = logits[0], sum = 0.0;
    for (double v : logits) top = std::max(top, v);
    for (double v : logits) sum += std::exp(v - top);
    total += std::log(sum) + top - logits[labels[i]];
  }
  return total / static_cast<double>(b);
}

int64_t float_count(Algorithm& a, const std::string& name) {
  for (const auto& entry : a.arena().plan().entries())
    if (entry.name == name) return entry.bytes / static_cast<int64_t>(sizeof(float));
  return -1;
}

// Every weights-category buffer of the model by name, to undo an update: the gradients a step leaves
// in the .grad buffers belong to the weights before it.
std::vector<std::pair<std::string, std::vector<float>>> weights_of(Algorithm& a) {
  std::vector<std::pair<std::string, std::vector<float>>> saved;
  const auto& entries = a.arena().plan().entries();
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].category == MemCategory::weights) {
      const float* p = a.arena().floats(BufferId{static_cast<int>(i)});
      saved.push_back({entries[i].name, std::vector<float>(p, p + entries[i].bytes / sizeof(float))});
    }
  return saved;
}
void restore(Algorithm& a, const std::vector<std::pair<std::string, std::vector<float>>>& saved) {
  for (const auto& [name, values] : saved) std::copy(values.begin(), values.end(), buffer(a, name));
}

// Central differences of `loss` in every entry of `param_name` against its .grad buffer.
template <class Loss>
void check_gradient(Algorithm& a, const std::string& param_name, int64_t count, Loss loss) {
  float* param = buffer(a, param_name);
  const float* grad = buffer(a, param_name + ".grad");
  for (int64_t i = 0; i < count; ++i) {
    const float saved = param[i], step = 1e-3f;
    param[i] = saved + step;
    const double plus = loss();
    param[i] = saved - step;
    const double minus = loss();
    param[i] = saved;
    const double numeric = (plus - minus) / (2.0 * step);
    INFO(param_name << "[" << i << "] analytic " << grad[i] << " numeric " << numeric);
    REQUIRE(std::fabs(grad[i] - numeric) <= 2e-3 * (1.0 + std::fabs(numeric)));
  }
}

// One step of `ff` on a fixed batch (after `warmup` steps on other batches, so the classifier is not
// all zeros), weights put back as they were before the step; returns its stats and negatives.
struct CheckedStep {
  StepStats stats;
  std::vector<float> x;
  std::vector<int32_t> y, negatives;
};
CheckedStep checked_step(Algorithm& ff, int64_t b, int warmup = 0) {
  Rng rng(2);
  CheckedStep out;
  out.x.resize(static_cast<size_t>(b * D));
  out.y.resize(static_cast<size_t>(b));
  for (int s = 0; s <= warmup; ++s) {
    for (auto& v : out.x) v = rng.uniform();
    for (int64_t i = 0; i < b; ++i) out.y[i] = static_cast<int32_t>((i + s) % K);
    const auto before = weights_of(ff);
    out.stats = ff.train_step(out.x.data(), out.y.data());
    if (s == warmup) restore(ff, before);
  }
  const int32_t* neg = static_cast<ForwardForward&>(ff).last_negative_labels();
  out.negatives.assign(neg, neg + b);
  return out;
}

void check_layers(Algorithm& ff, const std::vector<int64_t>& hidden, const CheckedStep& step, int64_t b, const Naive& cfg) {
  for (int l = 0; l < static_cast<int>(hidden.size()); ++l) {
    INFO("layer " << l);
    auto loss = [&] { return naive_layer_loss(ff, hidden, l, step.x, step.y, step.negatives.data(), b, cfg); };
    CHECK(step.stats.layer_loss[l] == Approx(loss()).epsilon(1e-4));
    const int64_t in = l == 0 ? D : hidden[l - 1];
    check_gradient(ff, "layer" + std::to_string(l) + ".weight", in * hidden[l], loss);
    check_gradient(ff, "layer" + std::to_string(l) + ".bias", hidden[l], loss);
  }
}

}  // namespace

TEST_CASE("ff and ff_symba: each layer's local gradient matches finite differences", "[ff]") {
  for (const char* name : {"ff", "ff_symba"}) {
    INFO(name);
    const bool symba = std::string(name) == "ff_symba";
    const int64_t b = 5;
    const std::vector<int64_t> hidden = {8, 6};
    nlohmann::json options = {{"optimizer", "sgd"}, {"momentum", 0.0}, {"classifier", false},
                              {"goodness", "mean"}, {"norm", "l2"}};
    options[symba ? "alpha" : "threshold"] = symba ? 1.5 : 2.0;  // SymBa's alpha: not its default of 4
    auto ff = create_algorithm(name, options);
    ff->setup(ModelSpec{D, hidden, K}, b, 11);
    Naive cfg;
    cfg.symba = symba;
    cfg.alpha = 1.5;
    check_layers(*ff, hidden, checked_step(*ff, b), b, cfg);
  }
}

TEST_CASE("ff: with its default options (sum goodness, rms normalisation, classifier) each layer's gradient matches finite differences", "[ff]") {
  const int64_t b = 5;
  const std::vector<int64_t> hidden = {8, 6};
  auto ff = create_algorithm("ff", {});
  ff->setup(ModelSpec{D, hidden, K}, b, 11);
  Naive cfg;
  cfg.l2 = false;
  cfg.mean_goodness = false;
  cfg.threshold = 1.0;
  check_layers(*ff, hidden, checked_step(*ff, b, 3), b, cfg);
}

TEST_CASE("ff: label_value is what the label slot holds (the loss and gradient follow it)", "[ff]") {
  const int64_t b = 5;
  const std::vector<int64_t> hidden = {8, 6};
  auto ff = create_algorithm("ff", {{"label_value", 2.5}, {"negatives", "hard"}});
  ff->setup(ModelSpec{D, hidden, K}, b, 5);
  Naive cfg;
  cfg.l2 = false;
  cfg.mean_goodness = false;
  cfg.threshold = 1.0;
  cfg.label_value = 2.5;
  const auto step = checked_step(*ff, b, 2);
  check_layers(*ff, hidden, step, b, cfg);
  Naive ignored = cfg;
  ignored.label_value = 1.0;
  CHECK(step.stats.layer_loss[0] != Approx(naive_layer_loss(*ff, hidden, 0, step.x, step.y, step.negatives.data(), b, ignored)).epsilon(1e-4));
}

TEST_CASE("ff: peer normalisation's gradient matches finite differences", "[ff]") {
  const int64_t b = 6;
  const std::vector<int64_t> hidden = {8, 6};
  // A large weight, so the peer term dominates the check (the matlab code's 0.03 would hide an error in it).
  auto ff = create_algorithm("ff", {{"peer_normalization", 20.0}, {"classifier", false}});
  ff->setup(ModelSpec{D, hidden, K}, b, 7);
  Naive cfg;
  cfg.l2 = false;
  cfg.mean_goodness = false;
  cfg.threshold = 1.0;
  cfg.peer = 20.0;
  const auto step = checked_step(*ff, b);
  check_layers(*ff, hidden, step, b, cfg);
  Naive without = cfg;
  without.peer = 0.0;
  const double pair_only = naive_layer_loss(*ff, hidden, 1, step.x, step.y, step.negatives.data(), b, without);
  CHECK(step.stats.layer_loss[1] > pair_only + 1e-3);  // the peer term is really there
}

TEST_CASE("ff: the softmax classifier's gradient matches finite differences, with and without the first layer", "[ff]") {
  for (bool skip_first : {true, false}) {
    INFO("classifier_skip_first " << skip_first);
    const int64_t b = 5;
    const std::vector<int64_t> hidden = {8, 6, 5};
    auto ff = create_algorithm("ff", {{"classifier_skip_first", skip_first}, {"label_value", 1.5}});
    ff->setup(ModelSpec{D, hidden, K}, b, 3);
    const int64_t features = skip_first ? 6 + 5 : 8 + 6 + 5;
    REQUIRE(float_count(*ff, "classifier.weight") == features * K);
    Naive cfg;
    cfg.l2 = false;
    cfg.label_value = 1.5;
    const auto step = checked_step(*ff, b, 4);
    const int first = skip_first ? 1 : 0;
    auto loss = [&] { return naive_classifier_loss(*ff, hidden, first, step.x, step.y, b, cfg); };
    CHECK(step.stats.classifier_loss == Approx(loss()).epsilon(1e-4));
    check_gradient(*ff, "classifier.weight", features * K, loss);
    check_gradient(*ff, "classifier.bias", K, loss);
    // The other choice of features would give another loss: the option is not ignored.
    CHECK(step.stats.classifier_loss != Approx(naive_classifier_loss(*ff, hidden, 1 - first, step.x, step.y, b, cfg)).epsilon(1e-4));
  }
}

TEST_CASE("ff: layer_epochs keeps each layer in training for that many epochs (layer-wise schedule)", "[ff]") {
  auto ff = create_algorithm("ff", {{"schedule", "layerwise"}, {"layer_epochs", 2}, {"classifier", false}});
  ff->setup(ffb::testing::small_model(), 16, 1);
  auto data = ffb::testing::small_synthetic(200, 50);
  std::vector<float> x(16 * 64);
  std::vector<int32_t> y(16);
  data::Batcher batcher(data.train, 16, 1);
  auto snapshot = [&](int l) {
    const int64_t count = l == 0 ? 64 * 32 : 32 * 24;
    const float* w = buffer(*ff, "layer" + std::to_string(l) + ".weight");
    return std::vector<float>(w, w + count);
  };
  for (int64_t epoch = 0; epoch < 4; ++epoch) {
    INFO("epoch " << epoch);
    ff->begin_epoch(epoch, 4);
    const auto w0 = snapshot(0), w1 = snapshot(1);
    batcher.start_epoch(epoch);
    for (int step = 0; step < 3 && batcher.next(x.data(), y.data()) > 0; ++step) ff->train_step(x.data(), y.data());
    const bool first_layer_trains = epoch < 2;  // epochs 0 and 1: layer 0; epochs 2 and 3: layer 1
    CHECK((snapshot(0) != w0) == first_layer_trains);
    CHECK((snapshot(1) != w1) == !first_layer_trains);
  }
}

TEST_CASE("ff: negatives never carry the true label, for every sampler", "[ff]") {
  auto data = ffb::testing::small_synthetic(640, 100);
  std::map<std::string, size_t> pairs;
  for (const char* sampler : {"uniform", "hard", "sampled"}) {
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
    pairs[sampler] = seen.size();
  }
  // Drawn in proportion to the classifier's probabilities, the sampled negatives spread over more
  // (true, negative) pairs than the most probable wrong label alone.
  CHECK(pairs["sampled"] > pairs["hard"]);
  CHECK_THROWS_WITH(create_algorithm("ff", {{"negatives", "sampled"}, {"classifier", false}}),
                    Catch::Contains("negatives 'sampled' need the classifier"));
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
  // One layer's goodness alone (the per-layer diagnostic): the label whose goodness at that layer is
  // highest, against the same choice made on the naive activities. A near tie (closer than the
  // float rounding) would not say which is right, so the check needs clear winners.
  for (int target = 0; target < 3; ++target) {
    int64_t agree = 0, clear = 0;
    for (int64_t i = 0; i < rows; ++i) {
      std::vector<double> g(K);
      for (int label = 0; label < K; ++label) {
        auto a = embed(x.data() + i * D, label);
        for (int l = 0; l <= target; ++l) a = layer(ff, l, a, hidden[l]);
        g[label] = goodness(a);
      }
      std::vector<double> sorted = g;
      std::sort(sorted.begin(), sorted.end());
      if (sorted[K - 1] - sorted[K - 2] < 1e-4 * std::abs(sorted[K - 1])) continue;
      ++clear;
      const auto best = static_cast<int32_t>(std::max_element(g.begin(), g.end()) - g.begin());
      const int32_t truth[1] = {best};
      agree += ff.evaluate_layer(x.data() + i * D, truth, 1, target) == 1.0;
    }
    INFO("layer " << target);
    CHECK(clear >= 3);
    CHECK(agree == clear);
  }
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
