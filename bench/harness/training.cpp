// See training.hpp.
#include "bench/harness/training.hpp"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "algorithms/backend/engine.hpp"

namespace ffb {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }
// Empty while the run is healthy; otherwise why it collapsed. `streak` counts evaluations in a row
// at chance level. `accuracy` is the evaluation's per-mode accuracy (validation or test).
std::string collapse_reason(const EpochRecord& record, const std::vector<double>& accuracy, int64_t classes,
                            int64_t evaluations, int64_t& streak) {
  for (size_t l = 0; l < record.goodness_pos.size(); ++l)
    if (record.goodness_pos[l] == 0.0f && record.goodness_neg[l] == 0.0f && record.layer_loss[l] > 0.0f)  // trained, yet silent
      return fmt::format("layer {} is dead: every unit gave zero goodness for all of epoch {}", l + 1, record.epoch);
  if (accuracy.empty()) return {};
  double best = 0.0;
  for (double a : accuracy) best = std::max(best, a);
  const double chance = 1.0 / static_cast<double>(std::max<int64_t>(classes, 1));
  streak = best < 1.5 * chance ? streak + 1 : 0;
  if (evaluations > 0 && streak >= evaluations)
    return fmt::format("accuracy at chance level ({:.2f}%, chance {:.0f}%) for {} evaluations in a row, up to epoch {}",
                       100.0 * best, 100.0 * chance, streak, record.epoch);
  return {};
}

}  // namespace

ModelSpec model_spec(const TrainConfig& config, const data::Dataset& train) {
  ModelSpec spec;
  spec.input = train.d;
  spec.hidden = config.hidden;
  spec.classes = train.k;
  return spec;
}

TrainResult train(Algorithm& algorithm, const TrainConfig& config, const data::Splits& data,
                  const EpochCallback& on_epoch, const StepCallback& on_step) {
  TrainResult result;
  if (config.eval_every < 1)
    throw std::invalid_argument(fmt::format("eval_every must be at least 1 (got {})", config.eval_every));
  result.spec = model_spec(config, data.train);
  result.train_samples = data.train.n;
  result.test_samples = data.test.n;
  result.validation_samples = data.validation.n;
  const bool validate = data.validation.n > 0;
  result.selection = validate ? "validation" : "none (test every epoch)";
  if (data.train.n < config.batch)
    throw std::invalid_argument(fmt::format("batch {} is larger than the training set ({} samples): use a smaller "
                                            "batch or more data", config.batch, data.train.n));
  algorithm.setup(result.spec, config.batch, config.seed);
  if (!config.load_path.empty()) algorithm.load(config.load_path);
  result.modes = algorithm.prediction_modes();
  if (validate) {
    result.best_epoch.assign(result.modes.size(), 0);
    result.best_validation_accuracy.assign(result.modes.size(), -1.0);
  }
  auto evaluate = [&](const data::Dataset& split, std::vector<double>& accuracy, std::vector<double>& loss) {
    for (size_t mode = 0; mode < result.modes.size(); ++mode) {
      const auto eval = algorithm.evaluate(split.x.data(), split.y.data(), split.n, static_cast<int>(mode));
      accuracy.push_back(eval.accuracy);
      loss.push_back(eval.loss);
    }
  };

  data::Batcher batcher(data.train, config.batch, config.seed * 7919 + 17, true, true);
  std::vector<float> x(static_cast<size_t>(config.batch * data.train.d));
  std::vector<int32_t> y(static_cast<size_t>(config.batch));
  double total_train_seconds = 0.0;
  const int64_t steps = batcher.batches_per_epoch();
  int64_t chance_streak = 0;

  for (int64_t epoch = 0; epoch < config.epochs; ++epoch) {
    EpochRecord record;
    record.epoch = epoch + 1;
    algorithm.begin_epoch(epoch, config.epochs);
    batcher.start_epoch(epoch);
    double loss_sum = 0.0, classifier_sum = 0.0;
    std::vector<double> layer_sum, pos_sum, neg_sum;
    int64_t step = 0;
    bool diverged = false;
    const auto start = Clock::now();
    while (batcher.next(x.data(), y.data()) > 0) {
      const StepStats stats = algorithm.train_step(x.data(), y.data());
      ++step;
      if (!std::isfinite(stats.loss) || !std::isfinite(stats.classifier_loss)) {
        diverged = true;
        result.detail = fmt::format("loss became {} at epoch {} step {}", stats.loss, epoch + 1, step);
        break;
      }
      loss_sum += stats.loss;
      classifier_sum += stats.classifier_loss;
      layer_sum.resize(static_cast<size_t>(stats.layers), 0.0);
      pos_sum.resize(layer_sum.size(), 0.0);
      neg_sum.resize(layer_sum.size(), 0.0);
      for (int l = 0; l < stats.layers; ++l) {
        layer_sum[l] += stats.layer_loss[l];
        pos_sum[l] += stats.goodness_pos[l];
        neg_sum[l] += stats.goodness_neg[l];
      }
      if (on_step) on_step(epoch + 1, step, steps, stats.loss);
    }
    record.epoch_seconds = seconds_since(start);
    total_train_seconds += record.epoch_seconds;
    record.train_seconds = total_train_seconds;
    record.samples_per_second = step > 0 ? static_cast<double>(step * config.batch) / record.epoch_seconds : 0.0;
    record.train_loss = step > 0 ? loss_sum / static_cast<double>(step) : 0.0;
    record.classifier_loss = step > 0 ? classifier_sum / static_cast<double>(step) : 0.0;
    for (size_t l = 0; l < layer_sum.size(); ++l) {
      record.layer_loss.push_back(static_cast<float>(layer_sum[l] / static_cast<double>(step)));
      record.goodness_pos.push_back(static_cast<float>(pos_sum[l] / static_cast<double>(step)));
      record.goodness_neg.push_back(static_cast<float>(neg_sum[l] / static_cast<double>(step)));
    }
    const bool budget_spent = config.time_budget_seconds > 0.0 && total_train_seconds >= config.time_budget_seconds;
    const bool last = epoch + 1 == config.epochs || budget_spent;
    if (!diverged && !last && (epoch + 1) % config.eval_every != 0) continue;  // not recorded: no evaluation
    if (diverged) {
      result.status = "diverged";
      result.epochs.push_back(record);
      if (on_epoch) on_epoch(record, result);
      return result;
    }
    record.census = value_census(algorithm.arena());
    const auto eval_start = Clock::now();
    if (validate) {
      evaluate(data.validation, record.validation_accuracy, record.validation_loss);
      for (size_t mode = 0; mode < result.modes.size(); ++mode)
        if (record.validation_accuracy[mode] > result.best_validation_accuracy[mode]) {
          result.best_validation_accuracy[mode] = record.validation_accuracy[mode];
          result.best_epoch[mode] = record.epoch;
        }
    } else {
      evaluate(data.test, record.test_accuracy, record.test_loss);
    }
    const auto& judged = validate ? record.validation_accuracy : record.test_accuracy;
    if (const auto why = collapse_reason(record, judged, data.train.k, config.collapse_evaluations, chance_streak); !why.empty()) {
      result.status = "collapsed";
      result.detail = why;
    }
    // With a validation split the test split is seen once: by the final model.
    if (validate && (last || result.status == "collapsed")) evaluate(data.test, record.test_accuracy, record.test_loss);
    record.eval_seconds = seconds_since(eval_start);
    result.epochs.push_back(record);
    if (on_epoch) on_epoch(record, result);
    if (budget_spent || result.status == "collapsed") break;
  }
  return result;
}

}  // namespace ffb
