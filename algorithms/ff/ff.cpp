// Forward-Forward: see ff.hpp and README.md. One training step:
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

namespace ffb {

std::vector<OptionInfo> ForwardForward::declared_options() {
  std::vector<OptionInfo> options;
  add_optimizer_options(options, 0.001, "sgd");
  options.push_back({"threshold", 1.0, "goodness threshold per unit: theta = threshold (mean goodness) or threshold * H (sum goodness)", 0.0});
  options.push_back({"goodness", "sum", "sum or mean of squared activities"});
  options.push_back({"norm", "rms", "normalisation of each layer's input: rms (root mean square) or l2 (length)"});
  options.push_back({"negatives", "uniform", "negative labels: uniform over the wrong labels, or hard (the wrong label the classifier rates highest)"});
  options.push_back({"schedule", "simultaneous", "simultaneous (every layer every step), layerwise (one layer at a time) or "
                                                 "pipelined (every layer every step, layer l on the batch layer l-1 saw one step earlier, the layers on separate threads)"});
  options.push_back({"layer_epochs", 1, "layerwise: epochs per layer", 1.0});
  options.push_back({"layer_steps", 0, "layerwise: steps per layer (overrides layer_epochs when > 0)", 0.0});
  options.push_back({"peer_normalization", 0.0, "weight of the peer-normalisation loss (the matlab code uses 0.03)", 0.0});
  options.push_back({"label_value", 1.0, "value written in the label's input slot"});
  options.push_back({"label_from_max", false, "write each image's maximum instead of label_value (the PyTorch reference does)"});
  options.push_back({"classifier", true, "train a softmax classifier alongside (enables softmax prediction and hard negatives)"});
  options.push_back({"classifier_lr", 0.01, "learning rate of the softmax classifier", 0.0, 10.0, true});
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
  bf16_ = bf16_precision(o);
  classifier_optimizer_ = optimizer_;
  classifier_optimizer_.lr = static_cast<float>(o.number("classifier_lr"));
  base_lr_ = optimizer_.lr;
  base_classifier_lr_ = classifier_optimizer_.lr;
  lr_decay_start_ = o.integer("lr_decay_start");
  if (o.values().contains("threshold")) threshold_ = o.number("threshold");
  goodness_mean_ = o.choice("goodness", {"sum", "mean"}) == "mean";
  norm_ = o.choice("norm", {"rms", "l2"}) == "l2" ? kern::NormKind::l2 : kern::NormKind::rms;
  hard_negatives_ = o.choice("negatives", {"uniform", "hard"}) == "hard";
  const auto schedule = o.choice("schedule", {"simultaneous", "layerwise", "pipelined"});
  layerwise_ = schedule == "layerwise";
  pipelined_ = schedule == "pipelined";
  layer_epochs_ = o.integer("layer_epochs");
  layer_steps_ = o.integer("layer_steps");
  if (layer_epochs_ < 1) throw std::invalid_argument(name + ": option 'layer_epochs' must be >= 1");
  if (layer_steps_ < 0) throw std::invalid_argument(name + ": option 'layer_steps' must be >= 0");
  peer_normalization_ = static_cast<float>(o.number("peer_normalization"));
  label_value_ = static_cast<float>(o.number("label_value"));
  label_from_max_ = o.flag("label_from_max");
  classifier_ = o.flag("classifier");
  classifier_skip_first_ = o.flag("classifier_skip_first");
  keep_features_ = o.choice("classifier_features", {"keep", "recompute"}) == "keep";
  goodness_skip_first_ = o.flag("goodness_skip_first");
  if (hard_negatives_ && !classifier_)
    throw std::invalid_argument(name + ": negatives 'hard' need the classifier; set classifier to true or negatives to 'uniform'");
}

std::vector<std::string> ForwardForward::prediction_modes() const {
  if (classifier_) return {"goodness", "softmax"};
  return {"goodness"};
}

void ForwardForward::setup(const ModelSpec& spec, int64_t batch, uint64_t seed) {
  begin_setup(spec, batch);
  if (spec.hidden.empty())
    throw std::invalid_argument(name_ + ": needs at least one hidden layer (layers must be a list like [784,500,500])");
  if (spec.input <= spec.classes)
    throw std::invalid_argument(fmt::format("{}: the label is written over the first {} inputs, so the input size "
                                            "must exceed the class count (got {})", name_, spec.classes, spec.input));
  const int64_t b = batch, b2 = 2 * batch, k = spec.classes, kb = k * batch;
  const int64_t depth = static_cast<int64_t>(spec.hidden.size());
  const int64_t widest_hidden = *std::max_element(spec.hidden.begin(), spec.hidden.end());
  const int64_t widest = std::max(spec.input, widest_hidden);
  owned_first_ = 0, owned_last_ = depth;
  layer_bounds_.clear();
  if (mode_ == DistributedMode::pipeline) {
    const int ranks = comm_->size();
    if (depth < ranks)
      throw std::invalid_argument(fmt::format("{}: a pipeline of {} ranks needs at least {} hidden layers (one per rank), "
                                              "got {}: run with -np {} or fewer, or add layers", name_, ranks, ranks, depth, depth));
    std::vector<double> costs;
    for (int64_t l = 0; l < depth; ++l)
      costs.push_back(static_cast<double>(l == 0 ? spec.input : spec.hidden[l - 1]) * static_cast<double>(spec.hidden[l]));
    layer_bounds_ = partition_layers(costs, ranks);
    owned_first_ = layer_bounds_[static_cast<size_t>(comm_->rank())];
    owned_last_ = layer_bounds_[static_cast<size_t>(comm_->rank()) + 1];
  }

  MemoryPlan plan;
  layers_.assign(depth, {});
  peer_means_.clear();
  for (int64_t l = 0; l < depth; ++l) {
    const int64_t in = l == 0 ? spec.input : spec.hidden[l - 1];
    layers_[l].plan(plan, fmt::format("layer{}", l), in, spec.hidden[l], optimizer_.kind);
    if (peer_normalization_ > 0.0f)
      peer_means_.push_back(plan.add_floats(fmt::format("layer{}.peer_mean", l), MemCategory::optimizer, spec.hidden[l]));
  }
  features_.clear();
  if (classifier_) {
    int64_t feature_width = 0;
    for (int64_t l = first_classifier_layer(); l < depth; ++l) {
      feature_width += spec.hidden[l];
      if (keep_features_)
        features_.push_back(plan.add_floats(fmt::format("features{}", l), MemCategory::activations, b * spec.hidden[l]));
    }
    classifier_params_.plan(plan, "classifier", feature_width, k, classifier_optimizer_.kind);
    logits_ = plan.add_floats("logits", MemCategory::activations, b * k);
    probs_ = plan.add_floats("probs", MemCategory::activations, b * k);
    logits_grad_ = plan.add_floats("logits.grad", MemCategory::activations, b * k);
  }
  embedded_ = plan.add_floats("embedded", MemCategory::activations, b2 * spec.input);
  normalized_a_ = plan.add_floats("normalized.a", MemCategory::activations, b2 * widest);
  normalized_b_ = plan.add_floats("normalized.b", MemCategory::activations, b2 * widest);
  hidden_ = plan.add_floats("hidden", MemCategory::activations, b2 * widest_hidden);
  scale_ = plan.add_floats("scale", MemCategory::activations, b2);
  goodness_ = plan.add_floats("goodness", MemCategory::activations, b2);
  goodness_grad_ = plan.add_floats("goodness.grad", MemCategory::activations, b2);
  label_values_ = plan.add_floats("label_values", MemCategory::activations, b2);
  negatives_ = plan.add_bytes("negatives", MemCategory::activations, b * static_cast<int64_t>(sizeof(int32_t)));
  peer_coefficients_ = plan.add_floats("peer_coefficients", MemCategory::scratch, widest_hidden);
  input_buffer_ = plan.add_floats("input", MemCategory::activations, b * spec.input);
  score_buffer_ = plan.add_floats("scores", MemCategory::scratch, b * k);
  if (bf16_) {
    constexpr int64_t half = sizeof(uint16_t);
    normalized_bf16_ = plan.add_bytes("normalized.bf16", MemCategory::activations, b2 * widest * half);
    hidden_grad_bf16_ = plan.add_bytes("hidden.grad.bf16", MemCategory::activations, b2 * widest_hidden * half);
    for (int64_t l = 0; l < depth; ++l) layers_[l].plan_bf16(plan, fmt::format("layer{}", l));
  }
  // Goodness prediction runs all K labels at once: K*B rows.
  predict_a_ = plan.add_floats("predict.a", MemCategory::activations, kb * widest_hidden);
  predict_b_ = plan.add_floats("predict.b", MemCategory::activations, kb * widest_hidden);
  predict_norm_ = plan.add_floats("predict.normalized", MemCategory::activations, kb * widest_hidden);
  predict_scale_ = plan.add_floats("predict.scale", MemCategory::activations, kb);
  predict_goodness_ = plan.add_floats("predict.goodness", MemCategory::activations, kb);
  first_product_ = plan.add_floats("predict.first_product", MemCategory::activations, b * spec.hidden[0]);

  shared_buffers_ = {hidden_, scale_, goodness_, goodness_grad_, normalized_bf16_, hidden_grad_bf16_, peer_coefficients_, {}};
  stage_buffers_.clear();
  stage_ops_.clear();
  stage_inputs_.clear();
  stage_layers_.clear();
  if (pipelined_) plan_pipeline(plan, batch);

  ops_.clear();
  for (int64_t l = 0; l < depth; ++l) {
    const auto& p = layers_[l];
    LayerOps ops{};
    if (!pipelined_) {
      ops.forward_pair = &matmul_op({.m = b2, .n = p.out, .k = p.in, .bias = true, .relu = true, .bf16 = bf16_});
      ops.weight_grad = &matmul_op({.m = p.in, .n = p.out, .k = b2, .trans_a = true, .bf16 = bf16_});
    }
    ops.forward_single = &matmul_op({.m = b, .n = p.out, .k = p.in, .bias = true, .relu = true});
    if (l > 0) ops.forward_labels = &matmul_op({.m = kb, .n = p.out, .k = p.in, .bias = true, .relu = true});
    ops_.push_back(ops);
  }
  first_product_op_ = &matmul_op({.m = b, .n = spec.hidden[0], .k = spec.input});
  classifier_forward_.clear();
  classifier_grad_.clear();
  if (classifier_) {
    for (int64_t l = first_classifier_layer(); l < depth; ++l) {
      const bool first = l == first_classifier_layer();
      classifier_forward_.push_back(
          &matmul_op({.m = b, .n = k, .k = spec.hidden[l], .accumulate = !first, .bias = first}));
      classifier_grad_.push_back(&matmul_op({.m = spec.hidden[l], .n = k, .k = b, .trans_a = true}));
    }
  }
  // The pipelined layers run at the same time, so each also has a scratchpad of its own.
  scratchpad_ = plan.add_bytes("matmul.scratchpad", MemCategory::scratch, matmuls_.max_scratchpad_bytes());
  shared_buffers_.scratch = scratchpad_;
  for (size_t l = 0; l < stage_ops_.size(); ++l)
    if (stage_ops_[l].forward != nullptr) stage_buffers_[l].scratch = plan.add_bytes(fmt::format("layer{}.matmul.scratchpad", l), MemCategory::scratch,
                                               std::max(stage_ops_[l].forward->scratchpad_bytes(),
                                                        stage_ops_[l].weight_grad->scratchpad_bytes()));
  finish_setup(plan);

  Rng rng(seed);
  for (const auto& p : layers_) p.init(arena_, rng);
  if (classifier_) {
    // The classifier starts at zero (all classes equally likely), as in the matlab code.
    std::memset(arena_.floats(classifier_params_.weight), 0,
                static_cast<size_t>(classifier_params_.in * k) * sizeof(float));
  }
  weights_changed();
  negative_rng_ = Rng(seed ^ 0x6e65676174697665ull);
  step_ = 0;
  begin_epoch(0, 1);
}

void ForwardForward::plan_pipeline(MemoryPlan& plan, int64_t batch) {
  const int64_t b2 = 2 * batch, depth = static_cast<int64_t>(layers_.size());
  constexpr int64_t half = sizeof(uint16_t);
  for (int64_t l = 0; l < depth; ++l) {
    const auto& p = layers_[l];
    const std::string name = fmt::format("layer{}.stage", l);
    // A layer's input slots: where the layer before writes (this process owns both) or where the
    // rank before's output arrives (l is this block's first layer).
    std::array<BufferId, 2> inputs{};
    if (l > 0 && l >= owned_first_ && l <= owned_last_ && l < depth) {
      inputs[0] = plan.add_floats(name + ".input.0", MemCategory::activations, b2 * p.in);
      inputs[1] = plan.add_floats(name + ".input.1", MemCategory::activations, b2 * p.in);
    }
    if (!owns(l)) {  // another rank's layer (distributed pipeline): no work here
      stage_buffers_.push_back({});
      stage_inputs_.push_back(inputs);
      stage_ops_.push_back({nullptr, nullptr});
      continue;
    }
    LayerBuffers buffers{};
    buffers.hidden = plan.add_floats(name + ".hidden", MemCategory::activations, b2 * p.out);
    buffers.scale = plan.add_floats(name + ".scale", MemCategory::activations, b2);
    buffers.goodness = plan.add_floats(name + ".goodness", MemCategory::activations, b2);
    buffers.goodness_grad = plan.add_floats(name + ".goodness.grad", MemCategory::activations, b2);
    if (bf16_) {
      buffers.input_bf16 = plan.add_bytes(name + ".input.bf16", MemCategory::activations, b2 * p.in * half);
      buffers.grad_bf16 = plan.add_bytes(name + ".hidden.grad.bf16", MemCategory::activations, b2 * p.out * half);
    }
    if (peer_normalization_ > 0.0f) buffers.peer = plan.add_floats(name + ".peer_coefficients", MemCategory::scratch, p.out);
    stage_buffers_.push_back(buffers);
    stage_inputs_.push_back(inputs);
    const int instance = static_cast<int>(l) + 1;
    stage_ops_.push_back(
        {&matmul_op({.m = b2, .n = p.out, .k = p.in, .bias = true, .relu = true, .bf16 = bf16_, .threads = 1, .instance = instance}),
         &matmul_op({.m = p.in, .n = p.out, .k = b2, .trans_a = true, .bf16 = bf16_, .threads = 1, .instance = instance})});
  }
  const int64_t owned = owned_last_ - owned_first_;
  const int team = std::max(1, std::min(threads(), static_cast<int>(owned)));
  stage_threads_ = team;
  std::vector<int64_t> order(static_cast<size_t>(owned));
  std::iota(order.begin(), order.end(), owned_first_);
  auto cost = [&](int64_t l) { return static_cast<double>(layers_[l].in) * static_cast<double>(layers_[l].out); };
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return cost(x) > cost(y); });
  std::vector<double> load(static_cast<size_t>(team), 0.0);
  stage_layers_.assign(static_cast<size_t>(team), {});
  for (int64_t l : order) {
    const auto t = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    stage_layers_[t].push_back(l);
    load[t] += cost(l);
  }
  for (auto& layers : stage_layers_) std::sort(layers.begin(), layers.end());
  prepare_streams(team);
}

void ForwardForward::weights_changed() {
  for (const auto& p : layers_) p.refresh_bf16(arena_);
}

void ForwardForward::begin_epoch(int64_t epoch, int64_t total_epochs) {
  epoch_ = epoch;
  const double factor = lr_decay_factor(lr_decay_start_, epoch, total_epochs);  // the layers and the classifier alike, as the matlab code
  optimizer_.lr = static_cast<float>(base_lr_ * factor);
  classifier_optimizer_.lr = static_cast<float>(base_classifier_lr_ * factor);
  if (!layerwise_) {
    trained_layer_ = -1;
  } else if (layer_steps_ == 0) {
    trained_layer_ = std::min<int64_t>(depth() - 1, epoch / layer_epochs_);
  }
}

float ForwardForward::label_value(const float* image) const {
  if (!label_from_max_) return label_value_;
  float best = 0.0f;
  for (int64_t i = 0; i < spec_.input; ++i) best = std::max(best, image[i]);
  return best;
}

void ForwardForward::embed(float* out, const float* x, const int32_t* labels, int64_t rows, int64_t out_rows) const {
  const int64_t d = spec_.input, k = spec_.classes;
  float* values = arena_.floats(label_values_);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < out_rows; ++b) {
    float* row = out + b * d;
    if (b >= rows) {
      std::memset(row, 0, static_cast<size_t>(d) * sizeof(float));
      values[b] = 0.0f;
      continue;
    }
    std::memcpy(row, x + b * d, static_cast<size_t>(d) * sizeof(float));
    const float v = label_value(x + b * d);
    values[b] = v;
    if (labels == nullptr) {
      for (int64_t c = 0; c < k; ++c) row[c] = v / static_cast<float>(k);
    } else {
      for (int64_t c = 0; c < k; ++c) row[c] = 0.0f;
      row[labels[b]] = v;
    }
  }
}

void ForwardForward::neutral_forward(const float* embedded, bool gradient) {
  // gradient == false: the neutral pass, with the classifier's logits (B x K) summed over its
  // layers. gradient == true (classifier_features "recompute", after the logits' gradient is known):
  // the same pass again, each layer's feature feeding its share of the classifier's weight gradient
  // as soon as it exists, so only one layer's feature is ever held.
  const int64_t b = batch_, k = spec_.classes;
  void* scratch = arena_.raw(scratchpad_);
  float* normalized = arena_.floats(normalized_a_);
  float* scale = arena_.floats(scale_);
  float* logits = classifier_ ? arena_.floats(logits_) : nullptr;
  const float* dlogits = classifier_ ? arena_.floats(logits_grad_) : nullptr;
  float* weight_grad = classifier_ ? arena_.floats(classifier_params_.weight_grad) : nullptr;
  const float* weight = classifier_ ? arena_.floats(classifier_params_.weight) : nullptr;
  arena_.mark_live(normalized_a_);
  arena_.mark_live(hidden_);
  if (classifier_ && !gradient) arena_.mark_live(logits_);
  kern::normalize_forward(Mat(normalized, b, spec_.input), scale, Mat(const_cast<float*>(embedded), b, spec_.input),
                          norm_, norm_eps_);
  const float* input = normalized;
  for (int64_t l = 0; l < depth(); ++l) {
    const auto& p = layers_[l];
    float* hidden = arena_.floats(hidden_);
    ops_[l].forward_single->run(input, arena_.floats(p.weight), hidden, arena_.floats(p.bias), scratch);
    const int64_t feature = l - first_classifier_layer();
    float* next = nullptr;
    if (classifier_ && feature >= 0 && keep_features_) {
      arena_.mark_live(features_[feature]);
      next = arena_.floats(features_[feature]);
    } else {
      next = arena_.floats(input == arena_.floats(normalized_a_) ? normalized_b_ : normalized_a_);
      arena_.mark_live(normalized_b_);
    }
    kern::normalize_forward(Mat(next, b, p.out), scale, Mat(hidden, b, p.out), norm_, norm_eps_);
    if (classifier_ && feature >= 0) {
      if (gradient) {
        classifier_grad_[feature]->run(next, dlogits, weight_grad, nullptr, scratch);
        weight_grad += p.out * k;
      } else {
        classifier_forward_[feature]->run(next, weight, logits, arena_.floats(classifier_params_.bias), scratch);
        weight += p.out * k;
      }
    }
    input = next;
  }
  arena_.mark_dead(hidden_);
  arena_.mark_dead(normalized_b_);
}

void ForwardForward::train_classifier(const float* embedded, const int32_t* labels, StepStats& stats) {
  const int64_t b = batch_, k = spec_.classes;
  arena_.mark_live(probs_);
  arena_.mark_live(logits_grad_);
  const Mat probs(arena_.floats(probs_), b, k);
  stats.classifier_loss = kern::softmax_xent_forward(probs, nullptr, Mat(arena_.floats(logits_), b, k), labels);
  const Mat dlogits(arena_.floats(logits_grad_), b, k);
  kern::softmax_xent_backward(dlogits, probs, labels, 1.0f / static_cast<float>(b));
  arena_.mark_dead(logits_);
  if (keep_features_) {
    void* scratch = arena_.raw(scratchpad_);
    float* weight_grad = arena_.floats(classifier_params_.weight_grad);
    for (size_t f = 0; f < features_.size(); ++f) {
      classifier_grad_[f]->run(arena_.floats(features_[f]), dlogits.data, weight_grad, nullptr, scratch);
      weight_grad += spec_.hidden[first_classifier_layer() + static_cast<int64_t>(f)] * k;
      arena_.mark_dead(features_[f]);
    }
  } else {
    neutral_forward(embedded, true);
  }
  std::memset(arena_.floats(classifier_params_.bias_grad), 0, static_cast<size_t>(k) * sizeof(float));
  kern::bias_grad_accumulate(arena_.floats(classifier_params_.bias_grad), dlogits);
  average_gradients(arena_.floats(classifier_params_.weight_grad), classifier_params_.in * k);
  average_gradients(arena_.floats(classifier_params_.bias_grad), k);
  classifier_params_.update(arena_, classifier_optimizer_, step_);
  arena_.mark_dead(logits_grad_);
}

void ForwardForward::choose_negatives(const int32_t* labels) {
  const int64_t b = batch_, k = spec_.classes;
  auto* negatives = static_cast<int32_t*>(arena_.raw(negatives_));
  if (!hard_negatives_) {
    // Uniform over the K-1 wrong labels: shift the true label by 1..K-1, never by 0. Data mode:
    // every rank draws the shifts of the whole global batch and keeps its slice's, so the ranks
    // together draw what one process with the whole batch would.
    const bool sliced = mode_ == DistributedMode::data;
    const int64_t offset = sliced ? b * comm_->rank() : 0, global = sliced ? b * comm_->size() : b;
    for (int64_t i = 0; i < global; ++i) {
      const auto shift = static_cast<int64_t>(negative_rng_.below(k - 1));
      if (i >= offset && i < offset + b) negatives[i - offset] = static_cast<int32_t>((labels[i - offset] + 1 + shift) % k);
    }
    return;
  }
  const float* probs = arena_.floats(probs_);
  for (int64_t i = 0; i < b; ++i) {
    int32_t best = -1;
    for (int32_t c = 0; c < k; ++c)
      if (c != labels[i] && (best < 0 || probs[i * k + c] > probs[i * k + best])) best = c;
    negatives[i] = best;
  }
  arena_.mark_dead(probs_);
}

const int32_t* ForwardForward::last_negative_labels() const { return static_cast<const int32_t*>(arena_.raw(negatives_)); }

double ForwardForward::pair_loss(const float* g, float* dg, int64_t b, int64_t width) const {
  const float theta = static_cast<float>(layer_threshold(width));
  const float inv = 1.0f / static_cast<float>(2 * b);
  double total = 0.0;
  for (int64_t i = 0; i < 2 * b; ++i) {
    const float margin = i < b ? theta - g[i] : g[i] - theta;  // positive: raise g; negative: lower it
    total += kern::softplus(margin);
    dg[i] = (i < b ? -1.0f : 1.0f) * kern::sigmoid(margin) * inv;
  }
  return total * inv;
}

StepStats ForwardForward::step(const float* x, const int32_t* labels) {
  const int64_t b = batch_, b2 = 2 * batch_, d = spec_.input;
  StepStats stats;
  stats.samples = b;
  stats.layers = static_cast<int>(depth());
  arena_.reset_live();
  ++step_;
  if (layerwise_ && layer_steps_ > 0) trained_layer_ = std::min<int64_t>(depth() - 1, (step_ - 1) / layer_steps_);

  if (owned_first_ > 0) {  // distributed pipeline, a later block: its input comes from the rank before
    boundary_before_step();
    stats.loss = pipeline_pass(nullptr, stats);
    boundary_after_step();
    return stats;
  }
  float* embedded = arena_.floats(embedded_);
  arena_.mark_live(embedded_);
  if (classifier_) {
    embed(embedded, x, nullptr, b, b);
    neutral_forward(embedded, false);
    train_classifier(embedded, labels, stats);
  }
  choose_negatives(labels);
  embed(embedded, x, labels, b, b);
  embed(embedded + b * d, x, static_cast<const int32_t*>(arena_.raw(negatives_)), b, b);

  float* scale = arena_.floats(scale_);
  BufferId current = normalized_a_, next = normalized_b_;
  arena_.mark_live(current);
  kern::normalize_forward(Mat(arena_.floats(current), b2, d), scale, Mat(embedded, b2, d), norm_, norm_eps_);
  arena_.mark_dead(embedded_);
  double total_loss = 0.0;
  if (pipelined_) {
    boundary_before_step();
    total_loss = pipeline_pass(arena_.floats(current), stats);
    boundary_after_step();
    arena_.mark_dead(current);
    stats.loss = total_loss;
    return stats;
  }
  for (int64_t l = 0; l < depth(); ++l) {
    if (trained_layer_ >= 0 && l > trained_layer_) break;
    const bool train_this = trained_layer_ < 0 || l == trained_layer_;
    const bool feeds_next = l + 1 < depth() && (trained_layer_ < 0 || l < trained_layer_);
    arena_.mark_live(hidden_);
    if (bf16_) {
      arena_.mark_live(normalized_bf16_);
      if (train_this) arena_.mark_live(hidden_grad_bf16_);
    }
    if (feeds_next) arena_.mark_live(next);
    total_loss += layer_pass(l, shared_buffers_, *ops_[l].forward_pair, *ops_[l].weight_grad, arena_.floats(current),
                             feeds_next ? arena_.floats(next) : nullptr, train_this, stats);
    arena_.mark_dead(hidden_);
    arena_.mark_dead(current);
    std::swap(current, next);
  }
  arena_.mark_dead(current);
  stats.loss = total_loss;
  return stats;
}

double ForwardForward::layer_pass(int64_t l, const LayerBuffers& buffers, const Matmul& forward, const Matmul& weight_grad,
                                  const float* input, float* next, bool train, StepStats& stats) {
  const int64_t b = batch_, b2 = 2 * batch_;
  const auto& p = layers_[l];
  void* scratch = arena_.raw(buffers.scratch);
  float* hidden = arena_.floats(buffers.hidden);
  const void* input_matmul = input;
  const void* weight_matmul = arena_.floats(p.weight);
  if (bf16_) {
    kern::to_bf16(static_cast<uint16_t*>(arena_.raw(buffers.input_bf16)), input, b2 * p.in);
    input_matmul = arena_.raw(buffers.input_bf16);
    weight_matmul = arena_.raw(p.weight_bf16);
  }
  forward.run(input_matmul, weight_matmul, hidden, arena_.floats(p.bias), scratch);
  const Mat h(hidden, b2, p.out);
  if (next != nullptr) kern::normalize_forward(Mat(next, b2, p.out), arena_.floats(buffers.scale), h, norm_, norm_eps_);
  if (!train) return 0.0;
  float* goodness = arena_.floats(buffers.goodness);
  float* goodness_grad = arena_.floats(buffers.goodness_grad);
  kern::goodness_forward(goodness, h, goodness_mean_);
  const double loss = pair_loss(goodness, goodness_grad, b, p.out);
  double pos = 0.0, neg = 0.0;
  for (int64_t i = 0; i < b; ++i) {
    pos += goodness[i];
    neg += goodness[b + i];
  }
  stats.goodness_pos[l] = static_cast<float>(pos / static_cast<double>(b));
  stats.goodness_neg[l] = static_cast<float>(neg / static_cast<double>(b));
  stats.layer_loss[l] = static_cast<float>(loss);
  const float* peer = nullptr;
  if (peer_normalization_ > 0.0f) {
    float* coefficients = arena_.floats(buffers.peer);
    stats.layer_loss[l] += static_cast<float>(peer_normalization_step(l, h, coefficients));
    peer = coefficients;
  }
  // dLoss/dz, written over h: dg * d(goodness)/dh, zero where ReLU was off (h = 0 there).
  const float c = goodness_mean_ ? 2.0f / static_cast<float>(p.out) : 2.0f;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < b2; ++r) {
    float* row = hidden + r * p.out;
    const float factor = c * goodness_grad[r];
    const bool positive = r < b && peer != nullptr;
    for (int64_t j = 0; j < p.out; ++j) {
      const float value = row[j];
      float grad = factor * value;
      if (positive && value > 0.0f) grad += peer[j];
      row[j] = grad;
    }
  }
  const void* grad_matmul = hidden;
  if (bf16_) {
    kern::to_bf16(static_cast<uint16_t*>(arena_.raw(buffers.grad_bf16)), hidden, b2 * p.out);
    grad_matmul = arena_.raw(buffers.grad_bf16);
  }
  weight_grad.run(input_matmul, grad_matmul, arena_.floats(p.weight_grad), nullptr, scratch);
  std::memset(arena_.floats(p.bias_grad), 0, static_cast<size_t>(p.out) * sizeof(float));
  kern::bias_grad_accumulate(arena_.floats(p.bias_grad), h);
  average_gradients(arena_.floats(p.weight_grad), p.in * p.out);  // data mode: the ranks' mean
  average_gradients(arena_.floats(p.bias_grad), p.out);
  p.update(arena_, optimizer_, step_);
  p.refresh_bf16(arena_);
  return loss;
}

double ForwardForward::pipeline_pass(const float* first_input, StepStats& stats) {
  // Step s: layer 0 takes this step's batch; layer l >= 1 takes what layer l-1 wrote in step s-1
  // (slot (s-1) & 1) and writes its own output for layer l+1 into slot s & 1. Layer l starts once
  // the pipeline has reached it (step > l). Every buffer of the stage is live at once.
  const int64_t write_slot = step_ & 1, read_slot = (step_ - 1) & 1;
  for (size_t l = 0; l < stage_buffers_.size(); ++l) {
    if (stage_inputs_[l][0].valid()) {
      arena_.mark_live(stage_inputs_[l][0]);
      arena_.mark_live(stage_inputs_[l][1]);
    }
    if (!owns(static_cast<int64_t>(l))) continue;
    arena_.mark_live(stage_buffers_[l].hidden);
    if (bf16_) {
      arena_.mark_live(stage_buffers_[l].input_bf16);
      arena_.mark_live(stage_buffers_[l].grad_bf16);
    }
  }
  double losses[kMaxLayers] = {};
  std::exception_ptr failure;
  const int team = stage_threads_;
#pragma omp parallel num_threads(team)
  {
    const int given = omp_get_num_threads();  // fewer than asked (OMP_DYNAMIC): threads take more layer groups
    for (int t = omp_get_thread_num(); t < team; t += given) {
      StreamSlot slot(t);
      for (const int64_t l : stage_layers_[static_cast<size_t>(t)]) {
        if (step_ <= l) continue;  // the pipeline has not reached this layer yet
        try {
          const float* input = l == 0 ? first_input : arena_.floats(stage_inputs_[l][read_slot]);
          float* next = l + 1 < depth() ? arena_.floats(stage_inputs_[l + 1][write_slot]) : nullptr;
          losses[l] = layer_pass(l, stage_buffers_[l], *stage_ops_[l].forward, *stage_ops_[l].weight_grad, input, next,
                                 true, stats);
        } catch (...) {
#pragma omp critical(ffb_pipeline_failure)
          if (!failure) failure = std::current_exception();
        }
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
  for (size_t l = 0; l < stage_buffers_.size(); ++l) {
    if (!owns(static_cast<int64_t>(l))) continue;
    arena_.mark_dead(stage_buffers_[l].hidden);
    if (bf16_) {
      arena_.mark_dead(stage_buffers_[l].input_bf16);
      arena_.mark_dead(stage_buffers_[l].grad_bf16);
    }
  }
  double total = 0.0;
  for (int64_t l = 0; l < depth(); ++l) total += losses[l];
  return total;
}

double ForwardForward::peer_normalization_step(int64_t l, const Mat& h, float* coefficients) {
  // Peer normalisation (matlab code; loeweX): a running mean r_j of each unit's activity on positive
  // data, and a loss peer * mean_j (mean(r) - r_j)^2 that pulls every unit toward the average. Its
  // gradient reaches h through this step's share (1 - momentum) / B of the running mean.
  constexpr float momentum = 0.9f;
  const int64_t b = batch_, width = h.cols;
  float* running = arena_.floats(peer_means_[l]);
  std::fill(coefficients, coefficients + width, 0.0f);
  kern::bias_grad_accumulate(coefficients, h.first_rows(b));  // column sums of the positive rows
  // Data mode: the running mean follows the whole global batch's mean activity (as one process's
  // would); the gradient below stays this rank's share, averaged with the others' afterwards.
  float rows = static_cast<float>(b);
  if (mode_ == DistributedMode::data && comm_->size() > 1) {
    comm_->allreduce_sum(coefficients, width);
    rows *= static_cast<float>(comm_->size());
  }
  double mean = 0.0;
  for (int64_t j = 0; j < width; ++j) {
    running[j] = momentum * running[j] + (1.0f - momentum) * coefficients[j] / rows;
    mean += running[j];
  }
  mean /= static_cast<double>(width);
  double loss = 0.0;
  const float scale = peer_normalization_ * 2.0f / static_cast<float>(width) * (1.0f - momentum) / static_cast<float>(b);
  for (int64_t j = 0; j < width; ++j) {
    const double deviation = running[j] - mean;
    loss += deviation * deviation;
    coefficients[j] = scale * static_cast<float>(deviation);
  }
  return peer_normalization_ * loss / static_cast<double>(width);
}

void ForwardForward::scores(const float* x, int64_t rows, int mode, float* out_scores) {
  const int64_t b = batch_, k = spec_.classes;
  const float* input = x;
  if (rows < b) {
    float* padded = arena_.floats(input_buffer_);
    std::memcpy(padded, x, static_cast<size_t>(rows * spec_.input) * sizeof(float));
    std::memset(padded + rows * spec_.input, 0, static_cast<size_t>((b - rows) * spec_.input) * sizeof(float));
    input = padded;
  }
  arena_.reset_live();
  if (mode == 0) {
    scores_goodness(input, arena_.floats(score_buffer_));
    std::memcpy(out_scores, arena_.floats(score_buffer_), static_cast<size_t>(rows * k) * sizeof(float));
    return;
  }
  float* embedded = arena_.floats(embedded_);
  embed(embedded, input, nullptr, b, b);
  neutral_forward(embedded, false);
  std::memcpy(out_scores, arena_.floats(logits_), static_cast<size_t>(rows * k) * sizeof(float));
}

void ForwardForward::scores_goodness(const float* x, float* out_scores) {
  // The K candidate inputs differ only in the label slots, and their lengths are equal (the slots
  // hold one value v and K-1 zeros), so layer 1's pre-activation for label k is
  //   s * (x_rest W + v W[k, :]) + b,   s = 1 / (|x_rest, v| + eps):
  // one B x D x H product shared by all labels, then a cheap correction per label. Layers 2.. run
  // all K*B rows through one matmul.
  const int64_t b = batch_, k = spec_.classes, d = spec_.input, kb = k * batch_;
  void* scratch = arena_.raw(scratchpad_);
  float* rest = arena_.floats(embedded_);
  float* values = arena_.floats(label_values_);
  float* row_scale = arena_.floats(scale_);
  const float c = norm_ == kern::NormKind::l2 ? 1.0f : 1.0f / static_cast<float>(d);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < b; ++i) {
    float* row = rest + i * d;
    std::memcpy(row, x + i * d, static_cast<size_t>(d) * sizeof(float));
    const float v = label_value(x + i * d);
    for (int64_t j = 0; j < k; ++j) row[j] = 0.0f;
    float sum = v * v;
    for (int64_t j = 0; j < d; ++j) sum += row[j] * row[j];
    values[i] = v;
    row_scale[i] = 1.0f / (std::sqrt(c * sum) + norm_eps_);
  }
  const auto& first = layers_[0];
  const int64_t h0 = first.out;
  float* product = arena_.floats(first_product_);
  first_product_op_->run(rest, arena_.floats(first.weight), product, nullptr, scratch);
  float* current = arena_.floats(predict_a_);
  float* other = arena_.floats(predict_b_);
  const float* weight0 = arena_.floats(first.weight);
  const float* bias0 = arena_.floats(first.bias);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t label = 0; label < k; ++label)
    for (int64_t i = 0; i < b; ++i) {
      const float s = row_scale[i], v = values[i];
      const float* p = product + i * h0;
      const float* w = weight0 + label * h0;
      float* out = current + (label * b + i) * h0;
      for (int64_t j = 0; j < h0; ++j) {
        const float z = s * (p[j] + v * w[j]) + bias0[j];
        out[j] = z > 0.0f ? z : 0.0f;
      }
    }
  std::fill(out_scores, out_scores + b * k, 0.0f);
  float* goodness = arena_.floats(predict_goodness_);
  auto add_goodness = [&](const float* hidden, int64_t width) {
    kern::goodness_forward(goodness, Mat(const_cast<float*>(hidden), kb, width), goodness_mean_);
    for (int64_t label = 0; label < k; ++label)
      for (int64_t i = 0; i < b; ++i) out_scores[i * k + label] += goodness[label * b + i];
  };
  auto counts = [&](int64_t l) { return only_layer_ >= 0 ? l == only_layer_ : l >= first_goodness_layer(); };
  if (counts(0)) add_goodness(current, h0);
  float* normalized = arena_.floats(predict_norm_);
  float* scale = arena_.floats(predict_scale_);
  for (int64_t l = 1; l < depth(); ++l) {
    const auto& p = layers_[l];
    kern::normalize_forward(Mat(normalized, kb, p.in), scale, Mat(current, kb, p.in), norm_, norm_eps_);
    ops_[l].forward_labels->run(normalized, arena_.floats(p.weight), other, arena_.floats(p.bias), scratch);
    std::swap(current, other);
    if (counts(l)) add_goodness(current, p.out);
    if (only_layer_ >= 0 && l >= only_layer_) break;
  }
}

void ForwardForward::scores_goodness_naive(const float* x, int64_t rows, float* out_scores) {
  // One full pass per label, B rows at a time: what goodness prediction costs without the shared product.
  const int64_t b = batch_, k = spec_.classes;
  void* scratch = arena_.raw(scratchpad_);
  float* embedded = arena_.floats(embedded_);
  float* normalized = arena_.floats(normalized_a_);
  float* hidden = arena_.floats(hidden_);
  float* scale = arena_.floats(scale_);
  float* goodness = arena_.floats(goodness_);
  auto* labels = static_cast<int32_t*>(arena_.raw(negatives_));
  std::fill(out_scores, out_scores + rows * k, 0.0f);
  for (int64_t label = 0; label < k; ++label) {
    for (int64_t i = 0; i < b; ++i) labels[i] = static_cast<int32_t>(label);
    embed(embedded, x, labels, rows, b);
    kern::normalize_forward(Mat(normalized, b, spec_.input), scale, Mat(embedded, b, spec_.input), norm_, norm_eps_);
    for (int64_t l = 0; l < depth(); ++l) {
      const auto& p = layers_[l];
      ops_[l].forward_single->run(normalized, arena_.floats(p.weight), hidden, arena_.floats(p.bias), scratch);
      if (l >= first_goodness_layer()) {
        kern::goodness_forward(goodness, Mat(hidden, b, p.out), goodness_mean_);
        for (int64_t i = 0; i < rows; ++i) out_scores[i * k + label] += goodness[i];
      }
      kern::normalize_forward(Mat(normalized, b, p.out), scale, Mat(hidden, b, p.out), norm_, norm_eps_);
    }
  }
}

double ForwardForward::flops_per_sample(Phase phase, int mode) const {
  // Matmul FLOPs only (elementwise work is not counted), per sample of the batch.
  std::vector<double> macs;
  for (const auto& p : layers_) macs.push_back(static_cast<double>(p.in) * static_cast<double>(p.out));
  const double k = spec_.classes;
  double classifier_macs = 0.0;
  for (int64_t l = first_classifier_layer(); l < depth(); ++l) classifier_macs += static_cast<double>(spec_.hidden[l]) * k;
  double neutral = 0.0;
  for (double m : macs) neutral += 2.0 * m;
  if (phase == Phase::inference) {
    if (mode == 1) return neutral + 2.0 * classifier_macs;
    double total = 2.0 * macs[0];  // the shared first-layer product
    for (size_t l = 1; l < macs.size(); ++l) total += k * 2.0 * macs[l];
    return total;
  }
  double total = 0.0;
  for (int64_t l = 0; l < depth(); ++l) {
    if (trained_layer_ >= 0 && l > trained_layer_) break;
    const bool trained = trained_layer_ < 0 || l == trained_layer_;
    total += 2.0 * 2.0 * macs[l];             // positive and negative forward
    if (trained) total += 2.0 * 2.0 * macs[l];  // weight gradient over 2B rows
  }
  // neutral pass (twice when the classifier's features are recomputed), classifier fwd + grad
  if (classifier_) total += (keep_features_ ? 1.0 : 2.0) * neutral + 2.0 * 2.0 * classifier_macs;
  return total;
}

double ForwardForward::evaluate_layer(const float* x, const int32_t* labels, int64_t n, int layer) {
  only_layer_ = layer;
  const auto result = evaluate(x, labels, n, 0);
  only_layer_ = -1;
  return result.accuracy;
}

std::string ForwardForward::distribution_problem(DistributedMode mode) const {
  if (mode == DistributedMode::pipeline) {
    if (!pipelined_)
      return "set the option schedule=pipelined: each layer then trains on what the layer before produced one step "
             "earlier, the math a pipeline across processes runs";
    if (classifier_)
      return "the softmax classifier reads every layer's activity in every step, and hard negatives need its verdict "
             "before layer 1 can start: set classifier=false (goodness prediction, uniform negatives)";
    return {};
  }
  if (mode == DistributedMode::data && pipelined_)
    return "the pipelined schedule trains its layers on separate threads, which cannot all join the gradient "
           "allreduce; use schedule simultaneous or layerwise, or --distributed pipeline";
  return {};
}

void ForwardForward::boundary_before_step() {
  if (mode_ != DistributedMode::pipeline) return;
  const auto slot = [](int64_t step) { return static_cast<int>(step & 1); };
  // The send posted two steps ago used the slot this step's last layer writes: it must be done.
  if (owned_last_ < depth()) comm_->wait_send(slot(step_));
  if (owned_first_ == 0) return;
  // This block's first layer reads what the rank before sent in the previous step (posted then),
  // and the next step's input is received into the other slot meanwhile. The rank before sends
  // from the step its last layer first runs: step >= owned_first_.
  const int64_t l = owned_first_;
  if (step_ - 1 >= l) comm_->wait_receive(slot(step_ - 1));
  if (step_ >= l)
    comm_->begin_receive(arena_.floats(stage_inputs_[l][slot(step_)]), 2 * batch_ * layers_[l].in, comm_->rank() - 1,
                         slot(step_));
}

void ForwardForward::boundary_after_step() {
  if (mode_ != DistributedMode::pipeline || owned_last_ >= depth()) return;
  const int64_t l = owned_last_;  // the next rank's first layer; ours, l - 1, ran once step_ > l - 1
  if (step_ >= l)
    comm_->begin_send(arena_.floats(stage_inputs_[l][step_ & 1]), 2 * batch_ * layers_[l].in, comm_->rank() + 1,
                      static_cast<int>(step_ & 1));
}

void ForwardForward::finish_transfers() {
  if (mode_ != DistributedMode::pipeline) return;
  for (int slot = 0; slot < 2; ++slot) {
    comm_->wait_send(slot);
    comm_->wait_receive(slot);
  }
}

void ForwardForward::gather_weights() {
  if (mode_ != DistributedMode::pipeline) return;
  for (int r = 0; r + 1 < static_cast<int>(layer_bounds_.size()); ++r)
    for (int64_t l = layer_bounds_[static_cast<size_t>(r)]; l < layer_bounds_[static_cast<size_t>(r) + 1]; ++l) {
      const auto& p = layers_[l];
      comm_->broadcast(arena_.floats(p.weight), p.in * p.out, r);
      comm_->broadcast(arena_.floats(p.bias), p.out, r);
    }
  weights_changed();
}

std::vector<int64_t> ForwardForward::partition_layers(const std::vector<double>& costs, int ranks) {
  const auto n = static_cast<int64_t>(costs.size());
  if (ranks < 1 || n < ranks)
    throw std::invalid_argument(fmt::format("cannot split {} layers into {} non-empty blocks", n, ranks));
  std::vector<double> prefix(static_cast<size_t>(n) + 1, 0.0);
  for (int64_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + costs[i];
  // best[r][i]: the smallest possible largest block when the first i layers go to r ranks.
  const double none = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(static_cast<size_t>(ranks) + 1, std::vector<double>(static_cast<size_t>(n) + 1, none));
  std::vector<std::vector<int64_t>> cut(best.size(), std::vector<int64_t>(static_cast<size_t>(n) + 1, 0));
  best[0][0] = 0.0;
  for (int r = 1; r <= ranks; ++r)
    for (int64_t i = r; i <= n; ++i)
      for (int64_t j = r - 1; j < i; ++j) {
        const double largest = std::max(best[r - 1][j], prefix[i] - prefix[j]);
        if (largest < best[r][i]) best[r][i] = largest, cut[r][i] = j;
      }
  std::vector<int64_t> bounds(static_cast<size_t>(ranks) + 1, n);
  for (int r = ranks; r > 0; --r) bounds[static_cast<size_t>(r) - 1] = cut[r][bounds[static_cast<size_t>(r)]];
  return bounds;
}

std::unique_ptr<Algorithm> create_ff(const nlohmann::json& options) { return std::make_unique<ForwardForward>(options); }

}  // namespace ffb
