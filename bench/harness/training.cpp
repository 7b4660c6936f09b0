// See training.hpp.
#include "bench/harness/training.hpp"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "algorithms/backend/engine.hpp"
#include "algorithms/layer_pipeline.hpp"

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

nlohmann::json distributed_stats(const Algorithm& algorithm, Communicator& comm, const TrainResult& result) {
  constexpr int kFields = 9;
  const int ranks = comm.size();
  std::vector<double> table(static_cast<size_t>(ranks * kFields), 0.0);
  const auto [first, last] = owned_layers(algorithm);
  const CommStats& c = result.comm;
  const double mine[kFields] = {result.rank_train_seconds, c.reduce_seconds, c.wait_seconds, c.post_seconds,
                                static_cast<double>(c.bytes_sent), static_cast<double>(c.bytes_received),
                                static_cast<double>(c.messages), static_cast<double>(first), static_cast<double>(last)};
  std::copy(mine, mine + kFields, table.begin() + comm.rank() * kFields);
  comm.allreduce_sum(table.data(), static_cast<int64_t>(table.size()));  // each rank fills its own row
  nlohmann::json out = {{"mode", to_string(algorithm.distributed_mode())}, {"ranks", ranks}, {"threads_per_rank", threads()},
                        {"per_rank", nlohmann::json::array()}};
  for (int r = 0; r < ranks; ++r) {
    const double* row = table.data() + r * kFields;
    const double communication = row[1] + row[2] + row[3];
    out["per_rank"].push_back({{"rank", r}, {"layers", {static_cast<int64_t>(row[7]), static_cast<int64_t>(row[8])}},
                               {"train_seconds", row[0]}, {"compute_seconds", std::max(0.0, row[0] - communication)},
                               {"reduce_seconds", row[1]}, {"wait_seconds", row[2]}, {"post_seconds", row[3]},
                               {"bytes_sent", row[4]}, {"bytes_received", row[5]}, {"messages", row[6]}});
  }
  return out;
}

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
  // Distributed (algorithm.distribute was called): every rank runs this same loop over the same
  // batches. Data mode: each rank trains on its slice of every batch (the algorithm is set up for
  // the slice). Decisions that end the run (divergence, the time budget) are shared by all ranks.
  Communicator* comm = algorithm.communicator();
  const DistributedMode mode = algorithm.distributed_mode();
  const int ranks = comm != nullptr ? comm->size() : 1, rank = comm != nullptr ? comm->rank() : 0;
  int64_t slice = config.batch, slice_offset = 0;
  if (mode == DistributedMode::data) {
    if (config.batch % ranks != 0)
      throw std::invalid_argument(fmt::format("data-parallel training over {} ranks splits each batch evenly: batch {} is "
                                              "not a multiple of {}; use a batch like {}", ranks, config.batch, ranks,
                                              (config.batch / ranks + 1) * ranks));
    slice = config.batch / ranks;
    slice_offset = slice * rank;
  }
  auto shared = [&](bool flag) { return comm != nullptr ? comm->any(flag) : flag; };
  algorithm.setup(result.spec, slice, config.seed);
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
    const CommStats comm_before = comm != nullptr ? comm->stats() : CommStats{};
    const auto start = Clock::now();
    while (batcher.next(x.data(), y.data()) > 0) {
      const StepStats stats = algorithm.train_step(x.data() + slice_offset * data.train.d, y.data() + slice_offset);
      ++step;
      layer_sum.resize(static_cast<size_t>(stats.layers), 0.0);  // the same size on every rank
      pos_sum.resize(layer_sum.size(), 0.0);
      neg_sum.resize(layer_sum.size(), 0.0);
      if (!std::isfinite(stats.loss) || !std::isfinite(stats.classifier_loss)) {
        if (!diverged) result.detail = fmt::format("loss became {} at epoch {} step {}", stats.loss, epoch + 1, step);
        diverged = true;
        // Alone, stop here. Distributed, every rank runs the epoch's steps (the others wait for this
        // one's transfers); the ranks decide together at its end.
        if (comm == nullptr) break;
        continue;
      }
      loss_sum += stats.loss;
      classifier_sum += stats.classifier_loss;
      for (int l = 0; l < stats.layers; ++l) {
        layer_sum[l] += stats.layer_loss[l];
        pos_sum[l] += stats.goodness_pos[l];
        neg_sum[l] += stats.goodness_neg[l];
      }
      if (on_step) on_step(epoch + 1, step, steps, stats.loss);
    }
    record.epoch_seconds = seconds_since(start);
    result.rank_train_seconds += record.epoch_seconds;
    if (comm != nullptr) {
      const CommStats& now = comm->stats();
      result.comm.bytes_sent += now.bytes_sent - comm_before.bytes_sent;
      result.comm.bytes_received += now.bytes_received - comm_before.bytes_received;
      result.comm.messages += now.messages - comm_before.messages;
      result.comm.reduce_seconds += now.reduce_seconds - comm_before.reduce_seconds;
      result.comm.wait_seconds += now.wait_seconds - comm_before.wait_seconds;
      result.comm.post_seconds += now.post_seconds - comm_before.post_seconds;
      // The epoch took as long as its slowest rank; the loss is the ranks' mean (data: each saw a
      // slice) or their sum (pipeline: each trained its own layers, their losses add up).
      double slowest[1] = {record.epoch_seconds};
      comm->allreduce_max(slowest, 1);
      record.epoch_seconds = slowest[0];
      const double share = mode == DistributedMode::data ? 1.0 / ranks : 1.0;
      std::vector<double> sums = {loss_sum, classifier_sum};
      for (size_t l = 0; l < layer_sum.size(); ++l) sums.insert(sums.end(), {layer_sum[l], pos_sum[l], neg_sum[l]});
      comm->allreduce_sum(sums.data(), static_cast<int64_t>(sums.size()));
      for (auto& v : sums) v *= share;
      loss_sum = sums[0], classifier_sum = sums[1];
      for (size_t l = 0; l < layer_sum.size(); ++l)
        layer_sum[l] = sums[2 + 3 * l], pos_sum[l] = sums[3 + 3 * l], neg_sum[l] = sums[4 + 3 * l];
    }
    if (shared(diverged) && !diverged) {
      diverged = true;
      result.detail = fmt::format("another rank's loss became non-finite in epoch {}", epoch + 1);
    }
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
    const bool budget_spent = shared(config.time_budget_seconds > 0.0 && total_train_seconds >= config.time_budget_seconds);
    const bool last = epoch + 1 == config.epochs || budget_spent;
    if (!diverged && !last && (epoch + 1) % config.eval_every != 0) continue;  // not recorded: no evaluation
    if (diverged) {
      result.status = PointStatus::diverged;
      result.epochs.push_back(record);
      if (on_epoch) on_epoch(record, result);
      finish_transfers(algorithm);
      return result;
    }
    record.census = value_census(algorithm.arena());
    gather_weights(algorithm);  // pipeline: every rank evaluates the whole, current model
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
      result.status = PointStatus::collapsed;
      result.detail = why;
    }
    // With a validation split the test split is seen once: by the final model.
    if (validate && (last || result.status == PointStatus::collapsed)) evaluate(data.test, record.test_accuracy, record.test_loss);
    record.eval_seconds = seconds_since(eval_start);
    result.epochs.push_back(record);
    if (on_epoch) on_epoch(record, result);
    if (budget_spent || result.status == PointStatus::collapsed) break;
  }
  finish_transfers(algorithm);
  return result;
}

}  // namespace ffb
