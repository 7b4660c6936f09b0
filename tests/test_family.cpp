// The algorithms beyond FF and BP (fa, dfa, mono_forward, ff_grouped, scff, pepita): each update
// against a reference. fa and dfa: the rule computed naively in double from the weights before the
// step (and fa with its feedback set to the forward weights is exactly bp); mono_forward, ff_grouped
// and scff: each layer's local gradient against central finite differences of its local loss (scff
// with the step's pairing, and its probe's); pepita: the two passes and the update computed naively.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "algorithms/registry.hpp"
#include "common/rng.hpp"
#include "algorithms/fa/fa.hpp"
#include "algorithms/ff_grouped/ff_grouped.hpp"
#include "algorithms/scff/scff.hpp"
#include "tests/algorithm_helpers.hpp"

using namespace ffb;
using ffb::testing::buffer;

namespace {

using Vec = std::vector<double>;
using Weights = std::map<std::string, Vec>;  // buffer name -> values before the step, in double

struct Batch {
  int64_t b = 6, d = 12;
  std::vector<float> x;
  std::vector<int32_t> y = {0, 1, 2, 3, 4, 0};
  explicit Batch(int64_t classes = 5) {
    Rng rng(8);
    x.resize(static_cast<size_t>(b * d));
    for (auto& v : x) v = rng.uniform();
    for (auto& label : y) label %= static_cast<int32_t>(classes);
  }
  Vec row(int64_t i) const { return Vec(x.begin() + i * d, x.begin() + (i + 1) * d); }
};

ModelSpec spec_of(std::vector<int64_t> hidden, int classes = 5) {
  ModelSpec spec;
  spec.input = 12;
  spec.hidden = std::move(hidden);
  spec.classes = classes;
  return spec;
}

Weights snapshot(Algorithm& algorithm) {
  Weights weights;
  const auto& entries = algorithm.arena().plan().entries();
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].category == MemCategory::weights) {
      const float* p = algorithm.arena().floats(BufferId{static_cast<int>(i)});
      weights[entries[i].name] = Vec(p, p + entries[i].bytes / static_cast<int64_t>(sizeof(float)));
    }
  return weights;
}

// y = x W + b (W stored in x out), optionally ReLU.
Vec dense(const Vec& x, const Vec& w, const Vec& bias, bool relu) {
  const size_t out = bias.size(), in = x.size();
  Vec y(bias);
  for (size_t o = 0; o < out; ++o) {
    for (size_t i = 0; i < in; ++i) y[o] += x[i] * w[i * out + o];
    if (relu) y[o] = std::max(y[o], 0.0);
  }
  return y;
}

// x B^T for B stored (n x k): n outputs.
Vec times_transposed(const Vec& x, const Vec& matrix, size_t n) {
  const size_t k = x.size();
  Vec y(n, 0.0);
  for (size_t j = 0; j < n; ++j)
    for (size_t c = 0; c < k; ++c) y[j] += x[c] * matrix[j * k + c];
  return y;
}

Vec softmax(const Vec& logits) {
  const double top = *std::max_element(logits.begin(), logits.end());
  Vec p(logits.size());
  double sum = 0.0;
  for (size_t c = 0; c < logits.size(); ++c) sum += (p[c] = std::exp(logits[c] - top));
  for (auto& v : p) v /= sum;
  return p;
}

double cross_entropy(const Vec& logits, int32_t label) { return -std::log(softmax(logits)[static_cast<size_t>(label)]); }

// Adds x^T delta / B into grad (in x out).
void add_outer(Vec& grad, const Vec& x, const Vec& delta, int64_t b) {
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t o = 0; o < delta.size(); ++o) grad[i * delta.size() + o] += x[i] * delta[o] / static_cast<double>(b);
}

void check_close(Algorithm& algorithm, const std::string& name, const Vec& expected, double tolerance = 1e-4) {
  const float* got = buffer(algorithm, name);
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO(name << "[" << i << "] algorithm " << got[i] << ", reference " << expected[i]);
    REQUIRE(std::fabs(got[i] - expected[i]) <= tolerance * (1.0 + std::fabs(expected[i])));
  }
}

std::string layer(int l, const char* part) { return "layer" + std::to_string(l) + "." + part; }

}  // namespace

TEST_CASE("fa: with its feedback set to the forward weights, one step is exactly a bp step", "[family][fa]") {
  const Batch batch;
  const nlohmann::json options = {{"optimizer", "sgd"}, {"lr", 0.05}};
  auto bp = create_algorithm("bp", options);
  FeedbackAlignment fa(options);
  bp->setup(spec_of({9, 7}), batch.b, 4);
  fa.setup(spec_of({9, 7}), batch.b, 4);
  fa.copy_weights_to_feedback();
  const double bp_loss = bp->train_step(batch.x.data(), batch.y.data()).loss;
  CHECK(fa.train_step(batch.x.data(), batch.y.data()).loss == bp_loss);
  for (int l = 0; l < 3; ++l)
    for (const char* part : {"weight", "bias"}) check_close(fa, layer(l, part), Vec(snapshot(*bp)[layer(l, part)]), 1e-6);
}

TEST_CASE("fa and dfa: the gradients follow the feedback rule (naive reference in double)", "[family][fa][dfa]") {
  const Batch batch;
  const std::vector<int64_t> sizes = {12, 9, 7, 5};
  for (const char* name : {"fa", "dfa"}) {
    INFO(name);
    const bool direct = std::string(name) == "dfa";
    auto algorithm = create_algorithm(name, {{"optimizer", "sgd"}, {"momentum", 0.0}});
    algorithm->setup(spec_of({9, 7}), batch.b, 4);
    const Weights w = snapshot(*algorithm);
    algorithm->train_step(batch.x.data(), batch.y.data());
    Vec grads[3], bias_grads[3];
    for (int l = 0; l < 3; ++l) {
      grads[l].assign(static_cast<size_t>(sizes[l] * sizes[l + 1]), 0.0);
      bias_grads[l].assign(static_cast<size_t>(sizes[l + 1]), 0.0);
    }
    for (int64_t i = 0; i < batch.b; ++i) {
      Vec a[3] = {batch.row(i), {}, {}};
      a[1] = dense(a[0], w.at(layer(0, "weight")), w.at(layer(0, "bias")), true);
      a[2] = dense(a[1], w.at(layer(1, "weight")), w.at(layer(1, "bias")), true);
      Vec e = softmax(dense(a[2], w.at(layer(2, "weight")), w.at(layer(2, "bias")), false));
      e[static_cast<size_t>(batch.y[static_cast<size_t>(i)])] -= 1.0;
      Vec delta = e;
      for (int l = 2; l >= 0; --l) {
        add_outer(grads[l], a[l], delta, batch.b);
        for (size_t o = 0; o < delta.size(); ++o) bias_grads[l][o] += delta[o] / static_cast<double>(batch.b);
        if (l == 0) break;
        // fa: delta B_l^T with B_l (in_l x out_l); dfa: e B_l^T with B_l (in_l x K).
        const Vec& feedback = w.at("feedback" + std::to_string(l));
        Vec below = times_transposed(direct ? e : delta, feedback, static_cast<size_t>(sizes[l]));
        for (size_t j = 0; j < below.size(); ++j) below[j] *= a[l][j] > 0.0 ? 1.0 : 0.0;
        delta = below;
      }
    }
    for (int l = 0; l < 3; ++l) {
      check_close(*algorithm, layer(l, "weight.grad"), grads[l]);
      check_close(*algorithm, layer(l, "bias.grad"), bias_grads[l]);
    }
  }
}

namespace {
// mono_forward's local loss of layer l (mean over the batch), given the weights.
double mono_forward_loss(const Weights& w, const Batch& batch, int layer_index) {
  double total = 0.0;
  for (int64_t i = 0; i < batch.b; ++i) {
    Vec a = batch.row(i);
    for (int l = 0; l <= layer_index; ++l) a = dense(a, w.at(layer(l, "weight")), w.at(layer(l, "bias")), true);
    const std::string projection = "projection" + std::to_string(layer_index);
    total += cross_entropy(dense(a, w.at(projection + ".weight"), w.at(projection + ".bias"), false), batch.y[static_cast<size_t>(i)]);
  }
  return total / static_cast<double>(batch.b);
}

// ff_grouped's local loss of layer l: groups' mean activity (times scale) as class scores; the input
// of a layer above the first is the layer below's activity with each group divided by its RMS.
double ff_grouped_loss(const Weights& w, const Batch& batch, int layer_index, int64_t classes, double scale) {
  double total = 0.0;
  for (int64_t i = 0; i < batch.b; ++i) {
    Vec input = batch.row(i);
    for (int l = 0;; ++l) {
      const Vec a = dense(input, w.at(layer(l, "weight")), w.at(layer(l, "bias")), true);
      const auto h = static_cast<int64_t>(a.size());
      Vec g(static_cast<size_t>(classes)), next(a.size());
      for (int64_t c = 0; c < classes; ++c) {
        const int64_t start = FFGrouped::group_start(c, h, classes), end = FFGrouped::group_start(c + 1, h, classes);
        double sum = 0.0, squares = 0.0;
        for (int64_t j = start; j < end; ++j) sum += a[j], squares += a[j] * a[j];
        g[static_cast<size_t>(c)] = scale * sum / static_cast<double>(end - start);
        for (int64_t j = start; j < end; ++j) next[j] = a[j] / (std::sqrt(squares / static_cast<double>(end - start)) + 1e-6);
      }
      if (l == layer_index) {
        total += cross_entropy(g, batch.y[static_cast<size_t>(i)]);
        break;
      }
      input = next;
    }
  }
  return total / static_cast<double>(batch.b);
}

// Central differences of `loss` in every value of the named buffers, against their .grad buffers.
template <typename Loss>
void check_finite_differences(Algorithm& algorithm, Weights w, const std::vector<std::string>& names, Loss loss) {
  for (const auto& name : names) {
    const float* grad = buffer(algorithm, name + ".grad");
    Vec& values = w.at(name);
    for (size_t i = 0; i < values.size(); ++i) {
      const double saved = values[i], step = 1e-4;
      values[i] = saved + step;
      const double plus = loss(w);
      values[i] = saved - step;
      const double minus = loss(w);
      values[i] = saved;
      const double numeric = (plus - minus) / (2.0 * step);
      INFO(name << "[" << i << "] analytic " << grad[i] << " numeric " << numeric);
      REQUIRE(std::fabs(grad[i] - numeric) <= 2e-3 * (1.0 + std::fabs(numeric)));
    }
  }
}
}  // namespace

TEST_CASE("mono_forward: each layer's and projection's gradient matches finite differences of its local loss", "[family][mono_forward]") {
  const Batch batch;
  auto algorithm = create_algorithm("mono_forward", {{"optimizer", "sgd"}, {"momentum", 0.0}});
  algorithm->setup(spec_of({9, 7}), batch.b, 4);
  const Weights w = snapshot(*algorithm);
  const double loss = algorithm->train_step(batch.x.data(), batch.y.data()).loss;
  CHECK(loss == Approx((mono_forward_loss(w, batch, 0) + mono_forward_loss(w, batch, 1)) / 2.0).epsilon(1e-4));
  for (int l = 0; l < 2; ++l) {
    INFO("layer " << l);
    const std::string projection = "projection" + std::to_string(l);
    check_finite_differences(*algorithm, w, {layer(l, "weight"), layer(l, "bias"), projection + ".weight", projection + ".bias"},
                             [&](const Weights& v) { return mono_forward_loss(v, batch, l); });
  }
}

TEST_CASE("ff_grouped: each layer's gradient matches finite differences of its local loss", "[family][ff_grouped]") {
  const Batch batch(4);
  for (double scale : {1.0, 3.0}) {
    INFO("scale " << scale);
    auto algorithm = create_algorithm("ff_grouped", {{"optimizer", "sgd"}, {"momentum", 0.0}, {"scale", scale}});
    algorithm->setup(spec_of({10, 9}, 4), batch.b, 4);
    const Weights w = snapshot(*algorithm);
    const double loss = algorithm->train_step(batch.x.data(), batch.y.data()).loss;
    CHECK(loss == Approx((ff_grouped_loss(w, batch, 0, 4, scale) + ff_grouped_loss(w, batch, 1, 4, scale)) / 2.0).epsilon(1e-4));
    for (int l = 0; l < 2; ++l) {
      INFO("layer " << l);
      check_finite_differences(*algorithm, w, {layer(l, "weight"), layer(l, "bias")},
                               [&](const Weights& v) { return ff_grouped_loss(v, batch, l, 4, scale); });
    }
  }
}

TEST_CASE("ff_grouped: the groups cover every unit once, sizes differing by at most one; too narrow a layer is refused", "[family][ff_grouped]") {
  for (int64_t h : {10, 16, 23, 500}) {
    int64_t covered = 0, smallest = h, largest = 0;
    for (int64_t c = 0; c < 10; ++c) {
      const int64_t size = FFGrouped::group_start(c + 1, h, 10) - FFGrouped::group_start(c, h, 10);
      covered += size;
      smallest = std::min(smallest, size);
      largest = std::max(largest, size);
    }
    CHECK(covered == h);
    CHECK(FFGrouped::group_start(0, h, 10) == 0);
    CHECK(largest - smallest <= 1);
  }
  auto algorithm = create_algorithm("ff_grouped", {});
  CHECK_THROWS_WITH(algorithm->setup(spec_of({9}, 10), 4, 1), Catch::Contains("at least one unit per class"));
}

TEST_CASE("pepita: the update is the rule's, from a naive two-pass reference in double", "[family][pepita]") {
  const Batch batch;
  const std::vector<int64_t> sizes = {12, 9, 7, 5};
  auto algorithm = create_algorithm("pepita", {{"momentum", 0.0}});
  algorithm->setup(spec_of({9, 7}), batch.b, 4);
  const Weights w = snapshot(*algorithm);
  const double loss = algorithm->train_step(batch.x.data(), batch.y.data()).loss;
  Vec grads[3], bias_grads[3];
  for (int l = 0; l < 3; ++l) {
    grads[l].assign(static_cast<size_t>(sizes[l] * sizes[l + 1]), 0.0);
    bias_grads[l].assign(static_cast<size_t>(sizes[l + 1]), 0.0);
  }
  double expected_loss = 0.0;
  for (int64_t i = 0; i < batch.b; ++i) {
    const auto label = batch.y[static_cast<size_t>(i)];
    auto pass = [&](const Vec& input) {
      std::vector<Vec> h = {input};
      for (int l = 0; l < 3; ++l) h.push_back(dense(h.back(), w.at(layer(l, "weight")), w.at(layer(l, "bias")), l < 2));
      return h;
    };
    const auto first = pass(batch.row(i));
    expected_loss += cross_entropy(first[3], label) / static_cast<double>(batch.b);
    Vec e = softmax(first[3]);
    e[static_cast<size_t>(label)] -= 1.0;
    Vec modulated = batch.row(i);
    const Vec shift = times_transposed(e, w.at("feedback"), static_cast<size_t>(batch.d));
    for (size_t j = 0; j < modulated.size(); ++j) modulated[j] += shift[j];
    const auto second = pass(modulated);
    for (int l = 0; l < 3; ++l) {
      Vec delta(static_cast<size_t>(sizes[l + 1]));
      for (size_t o = 0; o < delta.size(); ++o) delta[o] = l == 2 ? e[o] : first[l + 1][o] - second[l + 1][o];
      add_outer(grads[l], second[l], delta, batch.b);
      for (size_t o = 0; o < delta.size(); ++o) bias_grads[l][o] += delta[o] / static_cast<double>(batch.b);
    }
  }
  CHECK(loss == Approx(expected_loss).epsilon(1e-5));
  for (int l = 0; l < 3; ++l) {
    check_close(*algorithm, layer(l, "weight.grad"), grads[l]);
    check_close(*algorithm, layer(l, "bias.grad"), bias_grads[l]);
  }
}

namespace {
double softplus(double v) { return v > 30.0 ? v : std::log1p(std::exp(v)); }

// scff's local losses: layer l's contrastive loss (layer_index >= 0) or the probe's cross-entropy (-1).
double scff_loss(const Weights& w, const Batch& batch, int64_t shift, int depth, int layer_index, double threshold) {
  const int64_t b = batch.b;
  std::vector<Vec> input(static_cast<size_t>(b)), features(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) input[static_cast<size_t>(i)] = batch.row(i);
  auto concat = [](const Vec& first, const Vec& second) {
    Vec out(first);
    out.insert(out.end(), second.begin(), second.end());
    return out;
  };
  for (int l = 0; l < depth; ++l) {
    double loss = 0.0;
    std::vector<Vec> next(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i) {
      const Vec& a = input[static_cast<size_t>(i)];
      const Vec positive = dense(concat(a, a), w.at(layer(l, "weight")), w.at(layer(l, "bias")), true);
      const Vec negative = dense(concat(a, input[static_cast<size_t>((i + shift) % b)]), w.at(layer(l, "weight")),
                                 w.at(layer(l, "bias")), true);
      double g_pos = 0.0, g_neg = 0.0;
      for (double v : positive) g_pos += v * v / static_cast<double>(positive.size());
      for (double v : negative) g_neg += v * v / static_cast<double>(negative.size());
      loss += (softplus(threshold - g_pos) + softplus(g_neg - threshold)) / static_cast<double>(b);
      Vec normalized(positive);
      for (auto& v : normalized) v /= std::sqrt(g_pos) + 1e-4;
      next[static_cast<size_t>(i)] = normalized;
      features[static_cast<size_t>(i)].insert(features[static_cast<size_t>(i)].end(), normalized.begin(), normalized.end());
    }
    if (l == layer_index) return loss;
    input = next;
  }
  double loss = 0.0;
  for (int64_t i = 0; i < b; ++i)
    loss += cross_entropy(dense(features[static_cast<size_t>(i)], w.at("probe.weight"), w.at("probe.bias"), false),
                          batch.y[static_cast<size_t>(i)]) / static_cast<double>(b);
  return loss;
}
}  // namespace

TEST_CASE("scff: each layer's and the probe's gradient matches finite differences of its local loss", "[family][scff]") {
  const Batch batch;
  SelfContrastiveFF algorithm({{"optimizer", "sgd"}, {"momentum", 0.0}, {"threshold", 0.5}});
  algorithm.setup(spec_of({9, 7}), batch.b, 4);
  const Weights w = snapshot(algorithm);
  const auto stats = algorithm.train_step(batch.x.data(), batch.y.data());
  const int64_t shift = algorithm.last_shift();
  REQUIRE(shift >= 1);
  REQUIRE(shift < batch.b);
  CHECK(stats.loss == Approx(scff_loss(w, batch, shift, 2, 0, 0.5) + scff_loss(w, batch, shift, 2, 1, 0.5)).epsilon(1e-4));
  CHECK(stats.classifier_loss == Approx(scff_loss(w, batch, shift, 2, -1, 0.5)).epsilon(1e-4));
  for (int l = 0; l < 2; ++l) {
    INFO("layer " << l);
    check_finite_differences(algorithm, w, {layer(l, "weight"), layer(l, "bias")},
                             [&](const Weights& v) { return scff_loss(v, batch, shift, 2, l, 0.5); });
  }
  check_finite_differences(algorithm, w, {"probe.weight", "probe.bias"},
                           [&](const Weights& v) { return scff_loss(v, batch, shift, 2, -1, 0.5); });
}
