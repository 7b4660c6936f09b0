// Forward-Forward: see ff.hpp and README.md. This file: options, setup (the memory plan and the
// primitives), the label embedding. ff_step.cpp has the training step and its schedules,
// ff_predict.cpp prediction and FLOPs, ff_distributed.cpp the pipeline over ranks. One training step:
//   1. (classifier on) a neutral-label pass; the softmax classifier learns from it and, for hard
//      negatives, rates the wrong labels;
//   2. positives and negatives stacked as 2B rows go through the layers; each layer computes its
//      goodness, its local loss and its weight gradient from its own (constant) input, and updates.
#include "algorithms/ff/ff.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <omp.h>

#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/parallel.hpp"

namespace ffb {

std::vector<OptionInfo> ForwardForward::declared_options() {
  std::vector<OptionInfo> options;
  // The tuned defaults (lr, negatives, classifier_lr, peer_normalization 0): the best of the equal-budget
  // search (bench/suites/tune.json; evidence in README.md).
  add_optimizer_options(options, 0.000942, "sgd");
  options.push_back({"threshold", 1.0, "goodness threshold per unit: theta = threshold (mean goodness) or threshold * H (sum goodness)", 0.0});
  options.push_back({"goodness", "sum", "sum or mean of squared activities"});
  options.push_back({"norm", "rms", "normalisation of each layer's input: rms (root mean square) or l2 (length)"});
  options.push_back({"negatives", "auto", "negative labels: uniform over the wrong labels, hard (the wrong label the classifier rates highest), "
                                          "sampled (a wrong label drawn in proportion to the classifier's probability of it), "
                                          "or auto (hard with the classifier, uniform without)"});
  options.push_back({"schedule", "simultaneous", "simultaneous (every layer every step), layerwise (one layer at a time) or "
                                                 "pipelined (every layer every step, layer l on the batch layer l-1 saw one step earlier, the layers on separate threads)"});
  options.push_back({"layer_epochs", 1, "layerwise: epochs per layer", 1.0});
  options.push_back({"layer_steps", 0, "layerwise: steps per layer (overrides layer_epochs when > 0)", 0.0});
  options.push_back({"peer_normalization", 0.0, "weight of the peer-normalisation loss (the matlab code uses 0.03)", 0.0});
  options.push_back({"label_value", 1.0, "value written in the label's input slot"});
  options.push_back({"label_from_max", false, "write each image's maximum instead of label_value (the PyTorch reference does)"});
  options.push_back({"classifier", true, "train a softmax classifier alongside (enables softmax prediction and hard negatives)"});
  options.push_back({"classifier_lr", 0.012, "learning rate of the softmax classifier", 0.0, 10.0, true});
  options.push_back({"classifier_weight_decay", -1.0, "L2 weight decay of the softmax classifier; -1: the layers' weight_decay "
                                                      "(loeweX's port of the matlab code: 3e-3, ten times the layers')", -1.0});
  options.push_back({"classifier_features", "keep", "keep (each classifier layer's neutral activity, B x H, held until its gradient: memory grows with depth) or "
                                                   "recompute (a second neutral pass feeds the gradient layer by layer: flat memory, one more forward)"});
  options.push_back({"classifier_skip_first", true, "leave the first layer out of the classifier's input (paper)"});
  options.push_back({"goodness_skip_first", true, "leave the first layer out of goodness prediction (paper)"});
  return options;
}

ForwardForward::ForwardForward(const nlohmann::json& options, const std::string& name, std::vector<OptionInfo> declared)
    : Algorithm(std::make_unique<Options>(name, declared, options)), name_(name) {
  const auto& o = *options_;
  optimizer_ = optimizer_from(o);
  settings_.bf16 = bf16_precision(o);
  classifier_optimizer_ = optimizer_;
  classifier_optimizer_.lr = static_cast<float>(o.number("classifier_lr"));
  if (const double decay = o.number("classifier_weight_decay"); decay >= 0.0) {
    classifier_optimizer_.weight_decay = static_cast<float>(decay);
  } else if (decay != -1.0) {
    throw std::invalid_argument(fmt::format("{}: option 'classifier_weight_decay' is {}; it must be >= 0, or -1 for the "
                                            "layers' weight_decay", name_, decay));
  }
  base_lr_ = optimizer_.lr;
  settings_.lr_decay_start = o.integer("lr_decay_start");
  if (o.values().contains("threshold")) settings_.threshold = o.number("threshold");
  settings_.goodness_mean = o.choice("goodness", {"sum", "mean"}) == "mean";
  settings_.norm = o.choice("norm", {"rms", "l2"}) == "l2" ? kern::NormKind::l2 : kern::NormKind::rms;
  const auto negatives = o.choice("negatives", {"auto", "uniform", "hard", "sampled"});
  settings_.sampled_negatives = negatives == "sampled";
  settings_.hard_negatives = settings_.sampled_negatives || negatives == "hard" || (negatives == "auto" && o.flag("classifier"));
  const auto schedule = o.choice("schedule", {"simultaneous", "layerwise", "pipelined"});
  settings_.layerwise = schedule == "layerwise";
  settings_.pipelined = schedule == "pipelined";
  settings_.layer_epochs = o.integer("layer_epochs");
  settings_.layer_steps = o.integer("layer_steps");
  if (settings_.layer_epochs < 1) throw std::invalid_argument(name + ": option 'layer_epochs' must be >= 1");
  if (settings_.layer_steps < 0) throw std::invalid_argument(name + ": option 'layer_steps' must be >= 0");
  settings_.peer_normalization = static_cast<float>(o.number("peer_normalization"));
  settings_.label_value = static_cast<float>(o.number("label_value"));
  settings_.label_from_max = o.flag("label_from_max");
  settings_.has_classifier = o.flag("classifier");
  settings_.classifier_skip_first = o.flag("classifier_skip_first");
  settings_.keep_features = o.choice("classifier_features", {"keep", "recompute"}) == "keep";
  settings_.goodness_skip_first = o.flag("goodness_skip_first");
  if (settings_.hard_negatives && !settings_.has_classifier)
    throw std::invalid_argument(fmt::format("{}: negatives '{}' need the classifier; set classifier to true or negatives to 'uniform'",
                                            name, settings_.sampled_negatives ? "sampled" : "hard"));
}

std::vector<std::string> ForwardForward::prediction_modes() const {
  if (settings_.has_classifier) return {"goodness", "softmax"};
  return {"goodness"};
}

void ForwardForward::plan_buffers(MemoryPlan& plan) {
  if (spec_.hidden.empty())
    throw std::invalid_argument(name_ + ": needs at least one hidden layer (layers must be a list like [784,500,500])");
  if (spec_.input <= spec_.classes)
    throw std::invalid_argument(fmt::format("{}: the label is written over the first {} inputs, so the input size "
                                            "must exceed the class count (got {})", name_, spec_.classes, spec_.input));
  plan_rank_block();
  plan_parameters(plan);
  plan_activations(plan);
  schedule_.reset();
  if (settings_.pipelined) {
    schedule_ = std::make_unique<PipelinedSchedule>(*this);
    schedule_->plan(plan);
  }
  create_products(plan);
  phases_.define({"neutral pass (products, normalisation, classifier logits)", "classifier (loss, gradient, update)",
                  "negative labels", "pair inputs embedded and normalised", "forward products", "goodness, normalisation, dLoss/dz",
                  "pair loss", "bias gradient", "weight-gradient products", "update", "pipelined layers (all parts)"});
  // The pipelined layers run at the same time, so each also has a scratchpad of its own (the shared
  // one, scratchpad_, is planned by Algorithm::setup after this).
  if (schedule_) schedule_->plan_scratchpads(plan);
}

void ForwardForward::plan_rank_block() {
  const int64_t depth = static_cast<int64_t>(spec_.hidden.size());
  owned_first_ = 0, owned_last_ = depth;
  layer_bounds_.clear();
  rank_block_.reset();
  if (mode_ != DistributedMode::pipeline) return;
  const int ranks = comm_->size();
  if (depth < ranks)
    throw std::invalid_argument(fmt::format("{}: a pipeline of {} ranks needs at least {} hidden layers (one per rank), "
                                            "got {}: run with -np {} or fewer, or add layers", name_, ranks, ranks, depth, depth));
  std::vector<double> costs;
  for (int64_t l = 0; l < depth; ++l)
    costs.push_back(static_cast<double>(l == 0 ? spec_.input : spec_.hidden[l - 1]) * static_cast<double>(spec_.hidden[l]));
  layer_bounds_ = partition_layers(costs, ranks);
  owned_first_ = layer_bounds_[static_cast<size_t>(comm_->rank())];
  owned_last_ = layer_bounds_[static_cast<size_t>(comm_->rank()) + 1];
  rank_block_ = std::make_unique<RankBlock>(*this);
}

void ForwardForward::plan_parameters(MemoryPlan& plan) {
  const int64_t depth = static_cast<int64_t>(spec_.hidden.size());
  layers_.assign(depth, {});
  peer_means_.clear();
  for (int64_t l = 0; l < depth; ++l) {
    const int64_t in = l == 0 ? spec_.input : spec_.hidden[l - 1];
    layers_[l].plan(plan, fmt::format("layer{}", l), in, spec_.hidden[l], optimizer_.kind);
    if (settings_.peer_normalization > 0.0f)
      peer_means_.push_back(plan.add_floats(fmt::format("layer{}.peer_mean", l), MemCategory::optimizer, spec_.hidden[l]));
  }
  if (settings_.has_classifier)
    classifier_.plan(plan, {.batch = batch_, .classes = spec_.classes, .widths = spec_.hidden,
                            .first_layer = first_classifier_layer(), .keep_features = settings_.keep_features,
                            .optimizer = classifier_optimizer_});
}

void ForwardForward::plan_activations(MemoryPlan& plan) {
  const int64_t b = batch_, b2 = 2 * batch_, kb = spec_.classes * batch_;
  const int64_t widest_hidden = *std::max_element(spec_.hidden.begin(), spec_.hidden.end());
  const int64_t widest = std::max(spec_.input, widest_hidden);
  embedded_ = plan.add_floats("embedded", MemCategory::activations, b * spec_.input);
  normalized_a_ = plan.add_floats("normalized.a", MemCategory::activations, b2 * widest);
  normalized_b_ = plan.add_floats("normalized.b", MemCategory::activations, b2 * widest);
  hidden_ = plan.add_floats("hidden", MemCategory::activations, b2 * widest_hidden);
  scale_ = plan.add_floats("scale", MemCategory::activations, b2);
  goodness_ = plan.add_floats("goodness", MemCategory::activations, b2);
  goodness_grad_ = plan.add_floats("goodness.grad", MemCategory::activations, b2);
  label_values_ = plan.add_floats("label_values", MemCategory::activations, b2);
  negatives_ = plan.add_bytes("negatives", MemCategory::activations, b * static_cast<int64_t>(sizeof(int32_t)));
  peer_coefficients_ = plan.add_floats("peer_coefficients", MemCategory::scratch, widest_hidden);
  MatmulOperand normalized_operand, hidden_grad_operand;  // bf16: the pair pass's product inputs
  normalized_operand.plan(plan, "normalized.bf16", b2 * widest, settings_.bf16);
  hidden_grad_operand.plan(plan, "hidden.grad.bf16", b2 * widest_hidden, settings_.bf16);
  if (settings_.bf16) {
    for (size_t l = 0; l < layers_.size(); ++l) layers_[l].plan_bf16(plan, fmt::format("layer{}", l));
  }
  // Goodness prediction runs all K labels at once: K*B rows.
  predict_hidden_ = plan.add_floats("predict.hidden", MemCategory::activations, kb * widest_hidden);
  predict_norm_ = plan.add_floats("predict.normalized", MemCategory::activations, kb * widest_hidden);
  first_product_ = plan.add_floats("predict.first_product", MemCategory::activations, b * spec_.hidden[0]);
  shared_buffers_ = {hidden_, scale_, goodness_, goodness_grad_, normalized_operand, hidden_grad_operand, peer_coefficients_, {}};
}

void ForwardForward::create_products(MemoryPlan& plan) {
  const int64_t b = batch_, b2 = 2 * batch_, kb = spec_.classes * batch_;
  ops_.clear();
  packed_weights_.clear();
  for (int64_t l = 0; l < depth(); ++l) {
    const auto& p = layers_[l];
    LayerOps ops{};
    int64_t packed_bytes = 0;
    if (!settings_.pipelined) {
      ops.forward_pair = &matmul_op({.m = b2, .n = p.out, .k = p.in, .bias = true, .relu = true, .bf16 = settings_.bf16});
      ops.weight_grad = &matmul_op({.m = p.in, .n = p.out, .k = b2, .trans_a = true, .bf16 = settings_.bf16});
    }
    const MatmulShape single{.m = b, .n = p.out, .k = p.in, .bias = true, .relu = true};
    const MatmulShape labels{.m = kb, .n = p.out, .k = p.in, .bias = true, .relu = true};
    ops.forward_single = &matmul_op(single);
    ops.infer_single = inference_op(single, packed_bytes);
    if (l > 0) {
      ops.infer_labels = inference_op(labels, packed_bytes);
    } else {
      first_product_op_ = inference_op({.m = b, .n = spec_.hidden[0], .k = spec_.input}, packed_bytes);
    }
    ops_.push_back(ops);
    packed_weights_.push_back(plan_packed_weights(plan, fmt::format("layer{}.weight.packed", l), packed_bytes));
  }
  if (settings_.has_classifier) classifier_.create_products(matmuls_);
}

void ForwardForward::init_weights(Rng& rng) {
  shared_buffers_.scratch = scratchpad_;
  for (const auto& p : layers_) p.init(arena_, rng);
  if (settings_.has_classifier) classifier_.init(arena_);
  negative_rng_ = Rng(seed_ ^ 0x6e65676174697665ull);
  step_ = 0;
  begin_epoch(0, 1);
}

void ForwardForward::weights_changed() {
  for (const auto& p : layers_) p.refresh_bf16(arena_);
}

void ForwardForward::begin_epoch(int64_t epoch, int64_t total_epochs) {
  epoch_ = epoch;
  const double factor = lr_decay_factor(settings_.lr_decay_start, epoch, total_epochs);  // the layers and the classifier alike, as the matlab code
  optimizer_.lr = static_cast<float>(base_lr_ * factor);
  classifier_.set_lr(static_cast<float>(classifier_optimizer_.lr * factor));  // the component's live copy decays
  if (!settings_.layerwise) {
    trained_layer_ = -1;
  } else if (settings_.layer_steps == 0) {
    trained_layer_ = std::min<int64_t>(depth() - 1, epoch / settings_.layer_epochs);
  }
}

float ForwardForward::label_value(const float* image) const {
  if (!settings_.label_from_max) return settings_.label_value;
  float best = 0.0f;
  for (int64_t i = 0; i < spec_.input; ++i) best = std::max(best, image[i]);
  return best;
}

float ForwardForward::embed_row(float* row, const float* image, const int32_t* label) const {
  const int64_t d = spec_.input, k = spec_.classes;
  std::memcpy(row, image, static_cast<size_t>(d) * sizeof(float));
  const float v = label_value(image);
  if (label == nullptr) {
    for (int64_t c = 0; c < k; ++c) row[c] = v / static_cast<float>(k);
  } else {
    for (int64_t c = 0; c < k; ++c) row[c] = 0.0f;
    row[*label] = v;
  }
  return v;
}

void ForwardForward::embed(float* out, const float* x, const int32_t* labels, int64_t rows, int64_t out_rows) const {
  const int64_t d = spec_.input;
  float* values = arena_.floats(label_values_);
  parallel_for(out_rows, [&](int64_t b) {
    float* row = out + b * d;
    if (b >= rows) {
      std::memset(row, 0, static_cast<size_t>(d) * sizeof(float));
      values[b] = 0.0f;
      return;
    }
    values[b] = embed_row(row, x + b * d, labels == nullptr ? nullptr : labels + b);
  });
}

void ForwardForward::embed_normalized(float* out, float* scale, const float* x, int64_t b, const int32_t* positive,
                                      const int32_t* negative) const {
  const int64_t d = spec_.input, rows = positive == nullptr ? b : 2 * b;
  const float c = settings_.norm == kern::NormKind::l2 ? 1.0f : 1.0f / static_cast<float>(d);
  float* values = arena_.floats(label_values_);
  parallel_for(rows, [&](int64_t r) {
    float* row = out + r * d;
    const int64_t i = r < b ? r : r - b;  // the image: row r of the positives, row r - b of the negatives
    values[r] = embed_row(row, x + i * d, positive == nullptr ? nullptr : r < b ? positive + i : negative + i);
    scale[r] = kern::normalize_row(row, row, d, c, settings_.norm_eps);  // in place, on the row just written (in L1)
  });
}

}  // namespace ffb
