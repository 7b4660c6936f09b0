// A convergence point (point_parts.hpp): the training run, its per-epoch curve and CSV, time to target.
#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "bench/harness/point_parts.hpp"
#include "bench/harness/training.hpp"
#include "datasets/dataset.hpp"

namespace ffb {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

nlohmann::json census_json(const std::vector<BufferCensus>& census) {
  nlohmann::json by_category = nlohmann::json::object(), buffers = nlohmann::json::array();
  for (const auto& c : census) {
    auto& category = by_category[to_string(c.category)];
    if (category.is_null()) category = {{"values", int64_t{0}}, {"subnormal", int64_t{0}}, {"zero", int64_t{0}}};  // value() throws on null
    category["values"] = category["values"].get<int64_t>() + c.values;
    category["subnormal"] = category["subnormal"].get<int64_t>() + c.subnormal;
    category["zero"] = category["zero"].get<int64_t>() + c.zero;
    if (c.subnormal > 0)
      buffers.push_back({{"name", c.name}, {"category", to_string(c.category)}, {"values", c.values}, {"subnormal", c.subnormal}});
  }
  return {{"by_category", by_category}, {"buffers", buffers}};
}

namespace {

TrainConfig convergence_config(const SuitePoint& point) {
  TrainConfig config;
  config.algorithm = point.algorithm;
  config.options = point.options;
  config.dataset.name = point.dataset;
  config.dataset.limit_train = point.limit_train;
  config.dataset.limit_test = point.limit_test;
  config.dataset.seed = 1;  // the synthetic task stays the same across seeds; the seed varies the run
  config.hidden = point.hidden;
  config.batch = point.batch;
  config.epochs = point.epochs;
  config.eval_every = point.eval_every;
  config.dataset.standardize = point.standardize;
  config.dataset.validation = point.validation;
  config.time_budget_seconds = point.time_budget_seconds;
  config.seed = point.seed;
  return config;
}

// A progress line every 10 steps and at each epoch's end: where the run is and its samples/s since
// `train_start` (`steps_done` counts the steps).
StepCallback step_progress(const SuitePoint& point, const ProgressFn& progress, Clock::time_point train_start,
                           int64_t& steps_done) {
  const double planned = point.time_budget_seconds > 0 ? point.time_budget_seconds : 0.0;
  return [&point, &progress, train_start, &steps_done, planned](int64_t epoch, int64_t step, int64_t steps, double loss) {
    ++steps_done;
    if (!progress || (step % 10 != 0 && step != steps)) return;
    const double rate = static_cast<double>(steps_done * point.batch) / std::max(since(train_start), 1e-9);
    const double fraction = planned > 0 ? 0.0
                                        : (static_cast<double>(epoch - 1) + static_cast<double>(step) / static_cast<double>(steps)) /
                                              static_cast<double>(point.epochs);
    progress(fraction, fmt::format("epoch {}/{} step {}/{} loss {:.4f} {:.0f} samples/s", epoch,
                                   point.epochs, step, steps, loss, rate));
  };
}

// The per-epoch curve twice: as the result's "epochs" and as CSV rows (one line each).
struct Curve {
  nlohmann::json epochs = nlohmann::json::array();
  std::string csv;
};

// One evaluated epoch into the curve.
void add_epoch(Curve& curve, const EpochRecord& r, const std::vector<std::string>& modes) {
  nlohmann::json e = {{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"classifier_loss", r.classifier_loss},
                      {"train_seconds", r.train_seconds}, {"epoch_seconds", r.epoch_seconds},
                      {"eval_seconds", r.eval_seconds}, {"samples_per_second", r.samples_per_second},
                      {"layer_loss", r.layer_loss}, {"goodness_pos", r.goodness_pos}, {"goodness_neg", r.goodness_neg}};
  if (!r.census.empty()) e["census"] = census_json(r.census);
  curve.csv += fmt::format("{},{:.6g},{:.6g},{:.4f},{:.4f},{:.4f},{:.1f}", r.epoch, r.train_loss, r.classifier_loss,
                           r.train_seconds, r.epoch_seconds, r.eval_seconds, r.samples_per_second);
  for (size_t m = 0; m < modes.size(); ++m) {
    if (m >= r.test_accuracy.size()) {  // with a validation split, the test split is seen at the final epoch only
      if (!r.validation_accuracy.empty()) curve.csv += ",,";
      continue;
    }
    e["test_accuracy"][modes[m]] = r.test_accuracy[m];
    e["test_loss"][modes[m]] = r.test_loss[m];
    curve.csv += fmt::format(",{:.6f},{:.6f}", r.test_accuracy[m], r.test_loss[m]);
  }
  for (size_t m = 0; m < r.validation_accuracy.size(); ++m) {
    e["validation_accuracy"][modes[m]] = r.validation_accuracy[m];
    e["validation_loss"][modes[m]] = r.validation_loss[m];
    curve.csv += fmt::format(",{:.6f},{:.6f}", r.validation_accuracy[m], r.validation_loss[m]);
  }
  curve.csv += "\n";
  curve.epochs.push_back(e);
}

Curve curve_of(const TrainResult& outcome) {
  Curve curve;
  curve.csv = "epoch,train_loss,classifier_loss,train_seconds,epoch_seconds,eval_seconds,samples_per_second";
  for (const auto& m : outcome.modes) curve.csv += ",test_accuracy_" + m + ",test_loss_" + m;
  if (outcome.validation_samples > 0)
    for (const auto& m : outcome.modes) curve.csv += ",validation_accuracy_" + m + ",validation_loss_" + m;
  curve.csv += "\n";
  for (const auto& r : outcome.epochs) add_epoch(curve, r, outcome.modes);
  return curve;
}

// Time and epochs to each target accuracy, per mode (null when never reached), on the `curve` the
// per-epoch evaluations use ("validation_accuracy" or "test_accuracy").
nlohmann::json time_to_target(const nlohmann::json& epochs, const std::vector<std::string>& modes,
                              const std::vector<double>& targets, const std::string& curve) {
  nlohmann::json out;
  for (const auto& m : modes)
    for (double target : targets) {
      nlohmann::json reached = nullptr;
      for (const auto& e : epochs)
        if (e.contains(curve) && e[curve][m].get<double>() >= target) {
          reached = {{"epoch", e["epoch"]}, {"seconds", e["train_seconds"]}};
          break;
        }
      out[m][fmt::format("{:.4g}", target)] = reached;
    }
  return out;
}

// The final model's accuracies, and each mode's best epoch on validation.
void add_final_accuracies(nlohmann::json& result, const nlohmann::json& epochs, const TrainResult& outcome) {
  const bool validated = outcome.validation_samples > 0;
  if (!epochs.empty() && epochs.back().contains("test_accuracy")) result["final_accuracy"] = epochs.back()["test_accuracy"];
  if (validated && !epochs.empty() && epochs.back().contains("validation_accuracy"))
    result["final_validation_accuracy"] = epochs.back()["validation_accuracy"];
  for (size_t m = 0; m < outcome.best_epoch.size(); ++m)
    if (outcome.best_epoch[m] > 0)
      result["best_validation"][outcome.modes[m]] = {{"epoch", outcome.best_epoch[m]},
                                                     {"accuracy", outcome.best_validation_accuracy[m]}};
}

}  // namespace

nlohmann::json run_convergence(const SuitePoint& point, Algorithm& algorithm, const ProgressFn& progress,
                               PointStatus& status, std::string& detail, std::string& csv) {
  const TrainConfig config = convergence_config(point);
  const auto data = data::load(config.dataset);
  nlohmann::json result;
  result["train_samples"] = data.train.n;
  result["test_samples"] = data.test.n;
  result["validation_samples"] = data.validation.n;
  int64_t steps_done = 0;
  const auto on_step = step_progress(point, progress, Clock::now(), steps_done);
  const auto outcome = train(algorithm, config, data, {}, on_step);
  if (Communicator* comm = algorithm.communicator(); comm != nullptr) result["distributed"] = distributed_stats(algorithm, *comm, outcome);
  status = outcome.status;
  detail = outcome.detail;
  result["modes"] = outcome.modes;
  result["selection"] = outcome.selection;
  const bool validated = outcome.validation_samples > 0;
  Curve curve = curve_of(outcome);
  csv = std::move(curve.csv);
  result["epochs"] = curve.epochs;
  // Time to target on the split the per-epoch evaluations use: validation when there is one, else test.
  result["time_to_target_split"] = validated ? "validation" : "test";
  const auto reached = time_to_target(curve.epochs, outcome.modes, point.targets, validated ? "validation_accuracy" : "test_accuracy");
  if (!reached.is_null()) result["time_to_target"] = reached;
  add_final_accuracies(result, curve.epochs, outcome);
  if (point.diagnostics && status != PointStatus::diverged) {
    const int layers = algorithm.diagnostic_layers();
    for (int l = 0; l < layers; ++l)
      result["layer_accuracy"].push_back(algorithm.evaluate_layer(data.test.x.data(), data.test.y.data(), data.test.n, l));
  }
  return result;
}

}  // namespace ffb
