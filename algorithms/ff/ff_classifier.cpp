// Forward-Forward's softmax classifier (ff_classifier.hpp).
#include "algorithms/ff/ff_classifier.hpp"

#include <cstring>

#include <fmt/format.h>

#include "algorithms/backend/kernels.hpp"

namespace ffb {

void SoftmaxClassifier::plan(MemoryPlan& plan, const Config& config) {
  config_ = config;
  const int64_t b = config.batch, k = config.classes, depth = static_cast<int64_t>(config.widths.size());
  features_.clear();
  offsets_.clear();
  int64_t feature_width = 0;
  for (int64_t l = config.first_layer; l < depth; ++l) {
    offsets_.push_back(feature_width * k);
    feature_width += config.widths[l];
    if (config.keep_features)
      features_.push_back(plan.add_floats(fmt::format("features{}", l), MemCategory::activations, b * config.widths[l]));
  }
  params_.plan(plan, "classifier", feature_width, k, config.optimizer.kind);
  logits_ = plan.add_floats("logits", MemCategory::activations, b * k);
  probs_ = plan.add_floats("probs", MemCategory::activations, b * k);
  logits_grad_ = plan.add_floats("logits.grad", MemCategory::activations, b * k);
}

void SoftmaxClassifier::create_products(MatmulCache& matmuls) {
  const int64_t b = config_.batch, k = config_.classes, depth = static_cast<int64_t>(config_.widths.size());
  forward_.clear();
  grad_.clear();
  for (int64_t l = config_.first_layer; l < depth; ++l) {
    const bool first = l == config_.first_layer;
    forward_.push_back(&matmuls.get({.m = b, .n = k, .k = config_.widths[l], .accumulate = !first, .bias = first}));
    grad_.push_back(&matmuls.get({.m = config_.widths[l], .n = k, .k = b, .trans_a = true}));
  }
}

void SoftmaxClassifier::init(Arena& arena) const {
  std::memset(arena.floats(params_.weight), 0, static_cast<size_t>(params_.in * config_.classes) * sizeof(float));
}

void SoftmaxClassifier::begin_pass(Arena& arena, bool gradient) const {
  if (!gradient) arena.mark_live(logits_);
}

float* SoftmaxClassifier::activity_buffer(Arena& arena, int64_t l) const {
  if (!config_.keep_features || feature(l) < 0) return nullptr;
  arena.mark_live(features_[static_cast<size_t>(feature(l))]);
  return arena.floats(features_[static_cast<size_t>(feature(l))]);
}

void SoftmaxClassifier::add_layer(const Arena& arena, int64_t l, const float* activity, bool gradient, void* scratch) const {
  const int64_t f = feature(l);
  if (f < 0) return;
  const auto i = static_cast<size_t>(f);
  if (gradient) {
    grad_[i]->run(activity, arena.floats(logits_grad_), arena.floats(params_.weight_grad) + offsets_[i], nullptr, scratch);
  } else {
    forward_[i]->run(activity, arena.floats(params_.weight) + offsets_[i], arena.floats(logits_), arena.floats(params_.bias),
                     scratch);
  }
}

double SoftmaxClassifier::loss(Arena& arena, const int32_t* labels) const {
  const int64_t b = config_.batch, k = config_.classes;
  arena.mark_live(probs_);
  arena.mark_live(logits_grad_);
  const Mat probs(arena.floats(probs_), b, k);
  const double loss = kern::softmax_xent_forward(probs, nullptr, Mat(arena.floats(logits_), b, k), labels);
  kern::softmax_xent_backward(Mat(arena.floats(logits_grad_), b, k), probs, labels, 1.0f / static_cast<float>(b));
  arena.mark_dead(logits_);
  return loss;
}

void SoftmaxClassifier::weight_gradient_from_kept(Arena& arena, void* scratch) const {
  for (size_t f = 0; f < features_.size(); ++f) {
    grad_[f]->run(arena.floats(features_[f]), arena.floats(logits_grad_), arena.floats(params_.weight_grad) + offsets_[f],
                  nullptr, scratch);
    arena.mark_dead(features_[f]);
  }
}

void SoftmaxClassifier::bias_gradient(Arena& arena) const {
  const int64_t b = config_.batch, k = config_.classes;
  std::memset(arena.floats(params_.bias_grad), 0, static_cast<size_t>(k) * sizeof(float));
  kern::bias_grad_accumulate(arena.floats(params_.bias_grad), Mat(arena.floats(logits_grad_), b, k));
}

void SoftmaxClassifier::update(Arena& arena, int64_t step) const {
  params_.update(arena, config_.optimizer, step);
  arena.mark_dead(logits_grad_);
}

}  // namespace ffb
