// SCFF: layer l sees pairs [a_i, a_i] (positive) and [a_i, a_j], j != i (negative) of its input a (the
// normalised positive activity of the layer below; x for the first); goodness g = mean h^2 of
// h = relu([a, a'] W_l + b_l); loss softplus(theta - g_pos) + softplus(g_neg - theta). A linear probe
// (softmax cross-entropy) on every layer's normalised positive activity, detached, classifies.
#include "algorithms/scff/scff.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "algorithms/backend/kernels.hpp"
#include "algorithms/backend/parallel.hpp"
#include "common/rng.hpp"

namespace ffb {

namespace {
constexpr float kNormEps = 1e-4f;
}


std::vector<OptionInfo> SelfContrastiveFF::declared_options() {
  std::vector<OptionInfo> options;
  add_optimizer_options(options, 0.001, "adam");
  options.push_back({"threshold", 1.0, "theta: the mean-square goodness positives are pushed above and negatives below", 0.0});
  options.push_back({"probe_lr", 0.001, "learning rate of the linear probe (its own optimizer state, same kind)", 0.0, 10.0, true});
  return options;
}

SelfContrastiveFF::SelfContrastiveFF(const nlohmann::json& options) : DenseAlgorithm("scff", declared_options(), options) {
  probe_optimizer_ = optimizer_from(*options_, "probe_lr");
  base_probe_lr_ = probe_optimizer_.lr;
  threshold_ = static_cast<float>(options_->number("threshold"));
}

std::string SelfContrastiveFF::distribution_problem(DistributedMode mode) const {
  if (mode == DistributedMode::pipeline) return DenseAlgorithm::distribution_problem(mode);
  return "scff pairs the rows of one batch; data mode would pair within each rank's slice only (not supported)";
}

void SelfContrastiveFF::plan_layers(MemoryPlan& plan) {
  if (batch_ < 2) throw std::invalid_argument("scff: batch must be >= 2 (a negative pairs two different samples)");
  const int64_t b = batch_, k = spec_.classes;
  const int64_t widest = plan_hidden_layers(plan, 2, 2 * b, b);
  int64_t widest_in = spec_.input;
  feature_width_ = 0;
  for (auto h : spec_.hidden) {
    widest_in = std::max(widest_in, h);
    feature_width_ += h;
  }
  plan_layer(plan, probe_, "probe", {.in = feature_width_, .out = k});
  pairs_ = plan.add_floats("pairs", MemCategory::activations, 2 * b * 2 * widest_in);
  hidden_ = plan.add_floats("hidden", MemCategory::activations, 2 * b * widest);
  goodness_ = plan.add_floats("goodness", MemCategory::activations, 2 * b);
  goodness_grad_ = plan.add_floats("goodness.grad", MemCategory::activations, 2 * b);
  features_ = plan.add_floats("features", MemCategory::activations, b * feature_width_);
  scale_ = plan.add_floats("scale", MemCategory::activations, b);
  probe_logits_ = plan.add_floats("probe.logits", MemCategory::activations, b * k);
  probe_probs_ = plan.add_floats("probe.probs", MemCategory::activations, b * k);
  probe_grad_ = plan.add_floats("probe.grad", MemCategory::activations, b * k);
}

void SelfContrastiveFF::init_weights(Rng& rng) {
  DenseAlgorithm::init_weights(rng);
  pairing_seed_ = rng.next_u64();
  shift_ = 0;
}

void SelfContrastiveFF::pair_rows(float* out, const float* x, int64_t in, int64_t shift) const {
  const int64_t b = batch_;
  const size_t row_bytes = static_cast<size_t>(in) * sizeof(float);
  parallel_for(
      b,
      [&](int64_t i) {
        std::memcpy(out + i * 2 * in, x + i * in, row_bytes);
        std::memcpy(out + i * 2 * in + in, x + i * in, row_bytes);
        if (shift > 0) {
          std::memcpy(out + (b + i) * 2 * in, x + i * in, row_bytes);
          std::memcpy(out + (b + i) * 2 * in + in, x + ((i + shift) % b) * in, row_bytes);
        }
      },
      b * in > 65536);
}

void SelfContrastiveFF::pair_loss(const float* g, float* dg, int64_t l, StepStats& stats) const {
  const int64_t b = batch_;
  double loss = 0.0, pos = 0.0, neg = 0.0;
  for (int64_t i = 0; i < b; ++i) {
    const float over = g[i] - threshold_, under = g[b + i] - threshold_;
    loss += kern::softplus(-over) + kern::softplus(under);
    dg[i] = -kern::sigmoid(-over) / static_cast<float>(b);
    dg[b + i] = kern::sigmoid(under) / static_cast<float>(b);
    pos += g[i];
    neg += g[b + i];
  }
  stats.layer_loss[l] = static_cast<float>(loss / static_cast<double>(b));
  stats.goodness_pos[l] = static_cast<float>(pos / static_cast<double>(b));
  stats.goodness_neg[l] = static_cast<float>(neg / static_cast<double>(b));
  stats.loss += loss / static_cast<double>(b);
}

void SelfContrastiveFF::train_probe(const float* features, const int32_t* labels, StepStats& stats) {
  // The probe: softmax cross-entropy on the features, detached.
  void* scratch = scratchpad();
  arena_.mark_live(probe_logits_);
  probe_.forward_train(arena_, features, arena_.floats(probe_logits_), scratch);
  stats.classifier_loss = cross_entropy(probe_logits_, probe_probs_, probe_grad_, labels);
  probe_.backward(arena_, features, arena_.floats(probe_grad_), nullptr, scratch);
  update(probe_, probe_optimizer_);
  arena_.mark_dead(probe_grad_);
}

StepStats SelfContrastiveFF::step(const float* x, const int32_t* labels) {
  const int64_t b = batch_;
  const int64_t depth = static_cast<int64_t>(layers_.size());
  void* scratch = scratchpad();
  StepStats stats = begin_step();
  // The negatives' pairing: a seeded shift per step, never 0 (a row is never its own negative).
  Rng rng(pairing_seed_ ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(step_)));
  shift_ = 1 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(b - 1)));
  const float* input = x;
  float* features = arena_.floats(features_);
  arena_.mark_live(features_);
  int64_t offset = 0;
  for (int64_t l = 0; l < depth; ++l) {
    const int64_t in = l == 0 ? spec_.input : spec_.hidden[l - 1], h = spec_.hidden[l];
    arena_.mark_live(pairs_);
    float* pairs = arena_.floats(pairs_);
    pair_rows(pairs, input, in, shift_);
    arena_.mark_live(hidden_);
    const Mat hidden(arena_.floats(hidden_), 2 * b, h);
    layers_[l].forward_train(arena_, pairs, hidden.data, scratch);
    arena_.mark_live(goodness_);
    float* g = arena_.floats(goodness_);
    kern::goodness_forward(g, hidden, true);
    arena_.mark_live(goodness_grad_);
    float* dg = arena_.floats(goodness_grad_);
    pair_loss(g, dg, l, stats);
    arena_.mark_dead(goodness_);
    // The positive rows' normalised activity (before this layer's update) feeds the layer above and the probe.
    const Mat positive = hidden.first_rows(b);
    const Mat feature(features + offset, b, h, feature_width_);
    kern::normalize_forward(feature, arena_.floats(scale_), positive, kern::NormKind::rms, kNormEps);
    // dh = dg 2h / H (mean goodness), dz = dh * (h > 0), in place.
    kern::goodness_backward(hidden, dg, hidden, true);
    arena_.mark_dead(goodness_grad_);
    layers_[l].backward(arena_, pairs, hidden.data, nullptr, scratch);
    arena_.mark_dead(hidden_);
    arena_.mark_dead(pairs_);
    update(layers_[l], optimizer_);
    // The next layer's input: this layer's features, packed (B x h).
    if (l + 1 < depth) {
      arena_.mark_live(hidden_);
      kern::copy(Mat(arena_.floats(hidden_), b, h), feature);
      input = arena_.floats(hidden_);
    }
    offset += h;
  }
  train_probe(features, labels, stats);
  arena_.mark_dead(features_);
  if (depth > 1) arena_.mark_dead(hidden_);
  return stats;
}

void SelfContrastiveFF::scores(const float* x, int64_t rows, int mode, float* out_scores) {
  (void)mode;
  const int64_t b = batch_, k = spec_.classes;
  void* scratch = scratchpad();
  const float* input = padded_input(x, rows);
  float* features = arena_.floats(features_);
  int64_t offset = 0;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const int64_t in = l == 0 ? spec_.input : spec_.hidden[l - 1], h = spec_.hidden[l];
    pair_rows(arena_.floats(pairs_), input, in, 0);
    const Mat hidden(arena_.floats(hidden_), b, h);
    layers_[l].forward(arena_, arena_.floats(pairs_), hidden.data, scratch);
    const Mat feature(features + offset, b, h, feature_width_);
    kern::normalize_forward(feature, arena_.floats(scale_), hidden, kern::NormKind::rms, kNormEps);
    if (l + 1 < layers_.size()) {
      kern::copy(hidden, feature);
      input = hidden.data;
    }
    offset += h;
  }
  probe_.forward(arena_, features, arena_.floats(probe_logits_), scratch);
  std::memcpy(out_scores, arena_.floats(probe_logits_), static_cast<size_t>(rows * k) * sizeof(float));
}

double SelfContrastiveFF::flops_per_sample(Phase phase, int mode) const {
  (void)mode;
  double layers = 0.0;
  for (const auto& layer : layers_) layers += 2.0 * layer.macs();  // one row of 2 in_l x H_l
  const double probe = 2.0 * probe_.macs();
  if (phase == Phase::inference) return layers + probe;
  // Two rows per sample (positive and negative), forward and dW; the probe forward and dW.
  return 4.0 * layers + 2.0 * probe;
}

}  // namespace ffb
