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

// `flag` here, or on any rank of a distributed run: a decision that ends the run is every rank's.
bool on_any_rank(Communicator* comm, bool flag) { return comm != nullptr ? comm->any(flag) : flag; }

// The part of every batch this rank trains on: all of it, or (data-parallel) its slice.
struct BatchSlice {
  int64_t size = 0, offset = 0;
};

BatchSlice batch_slice(int64_t batch, DistributedMode mode, Communicator* comm) {
  const int ranks = comm != nullptr ? comm->size() : 1, rank = comm != nullptr ? comm->rank() : 0;
  BatchSlice slice{batch, 0};
  if (mode == DistributedMode::data) {
    if (batch % ranks != 0)
      throw std::invalid_argument(fmt::format("data-parallel training over {} ranks splits each batch evenly: batch {} is "
                                              "not a multiple of {}; use a batch like {}", ranks, batch, ranks,
                                              (batch / ranks + 1) * ranks));
    slice.size = batch / ranks;
    slice.offset = slice.size * rank;
  }
  return slice;
}

// The run's training batches in their seeded order, the buffers they are copied into, and the
// offset of this rank's slice in them.
struct EpochBatches {
  EpochBatches(const data::Dataset& train, const TrainConfig& config, int64_t slice_offset)
      : batcher(train, config.batch, config.seed * 7919 + 17, true, true),
        x(static_cast<size_t>(config.batch * train.d)),
        y(static_cast<size_t>(config.batch)),
        batch(config.batch),
        d(train.d),
        offset(slice_offset),
        steps(batcher.batches_per_epoch()) {}
  data::Batcher batcher;
  std::vector<float> x;
  std::vector<int32_t> y;
  int64_t batch, d, offset, steps;
};

// An epoch's step results summed (FF's per-layer figures too), its steps and this rank's wall time.
struct EpochSums {
  double loss = 0.0, classifier = 0.0;
  std::vector<double> layer, pos, neg;
  int64_t steps = 0;
  bool diverged = false;
  double seconds = 0.0;
};

// The steps of `epoch` (0-based), timed. `detail` says where the loss first became non-finite.
EpochSums train_steps(Algorithm& algorithm, EpochBatches& batches, int64_t epoch, bool alone,
                      const StepCallback& on_step, std::string& detail) {
  EpochSums sums;
  const auto start = Clock::now();
  while (batches.batcher.next(batches.x.data(), batches.y.data()) > 0) {
    const StepStats stats = algorithm.train_step(batches.x.data() + batches.offset * batches.d, batches.y.data() + batches.offset);
    ++sums.steps;
    sums.layer.resize(static_cast<size_t>(stats.layers), 0.0);  // the same size on every rank
    sums.pos.resize(sums.layer.size(), 0.0);
    sums.neg.resize(sums.layer.size(), 0.0);
    if (!std::isfinite(stats.loss) || !std::isfinite(stats.classifier_loss)) {
      if (!sums.diverged) detail = fmt::format("loss became {} at epoch {} step {}", stats.loss, epoch + 1, sums.steps);
      sums.diverged = true;
      // Alone, stop here. Distributed, every rank runs the epoch's steps (the others wait for this
      // one's transfers); the ranks decide together at its end.
      if (alone) break;
      continue;
    }
    sums.loss += stats.loss;
    sums.classifier += stats.classifier_loss;
    for (int l = 0; l < stats.layers; ++l) {
      sums.layer[l] += stats.layer_loss[l];
      sums.pos[l] += stats.goodness_pos[l];
      sums.neg[l] += stats.goodness_neg[l];
    }
    if (on_step) on_step(epoch + 1, sums.steps, batches.steps, stats.loss);
  }
  sums.seconds = seconds_since(start);
  return sums;
}

// The communication between `before` and `now`, added to `total`.
void add_communication(CommStats& total, const CommStats& before, const CommStats& now) {
  total.bytes_sent += now.bytes_sent - before.bytes_sent;
  total.bytes_received += now.bytes_received - before.bytes_received;
  total.messages += now.messages - before.messages;
  total.reduce_seconds += now.reduce_seconds - before.reduce_seconds;
  total.wait_seconds += now.wait_seconds - before.wait_seconds;
  total.post_seconds += now.post_seconds - before.post_seconds;
}

// The epoch took as long as its slowest rank; the loss is the ranks' mean (data: each saw a
// slice) or their sum (pipeline: each trained its own layers, their losses add up).
void reduce_over_ranks(Communicator& comm, DistributedMode mode, EpochSums& sums, double& epoch_seconds) {
  double slowest[1] = {epoch_seconds};
  comm.allreduce_max(slowest, 1);
  epoch_seconds = slowest[0];
  const double share = mode == DistributedMode::data ? 1.0 / comm.size() : 1.0;
  std::vector<double> values = {sums.loss, sums.classifier};
  for (size_t l = 0; l < sums.layer.size(); ++l) values.insert(values.end(), {sums.layer[l], sums.pos[l], sums.neg[l]});
  comm.allreduce_sum(values.data(), static_cast<int64_t>(values.size()));
  for (auto& v : values) v *= share;
  sums.loss = values[0], sums.classifier = values[1];
  for (size_t l = 0; l < sums.layer.size(); ++l)
    sums.layer[l] = values[2 + 3 * l], sums.pos[l] = values[3 + 3 * l], sums.neg[l] = values[4 + 3 * l];
}

// Trains epoch `epoch` (0-based) into `record` (its seconds, the slowest rank's; the means per step)
// and `result` (this rank's time and communication). Returns whether the loss became non-finite on
// any rank (`result.detail` says where).
bool train_epoch(Algorithm& algorithm, EpochBatches& batches, int64_t epoch, int64_t epochs, const StepCallback& on_step,
                 EpochRecord& record, TrainResult& result) {
  Communicator* comm = algorithm.communicator();
  algorithm.begin_epoch(epoch, epochs);
  batches.batcher.start_epoch(epoch);
  const CommStats comm_before = comm != nullptr ? comm->stats() : CommStats{};
  EpochSums sums = train_steps(algorithm, batches, epoch, comm == nullptr, on_step, result.detail);
  record.epoch_seconds = sums.seconds;
  result.rank_train_seconds += record.epoch_seconds;
  if (comm != nullptr) {
    add_communication(result.comm, comm_before, comm->stats());
    reduce_over_ranks(*comm, algorithm.distributed_mode(), sums, record.epoch_seconds);
  }
  bool diverged = sums.diverged;
  if (on_any_rank(comm, diverged) && !diverged) {
    diverged = true;
    result.detail = fmt::format("another rank's loss became non-finite in epoch {}", epoch + 1);
  }
  const double steps = static_cast<double>(sums.steps);
  record.samples_per_second = sums.steps > 0 ? static_cast<double>(sums.steps * batches.batch) / record.epoch_seconds : 0.0;
  record.train_loss = sums.steps > 0 ? sums.loss / steps : 0.0;
  record.classifier_loss = sums.steps > 0 ? sums.classifier / steps : 0.0;
  for (size_t l = 0; l < sums.layer.size(); ++l) {
    record.layer_loss.push_back(static_cast<float>(sums.layer[l] / steps));
    record.goodness_pos.push_back(static_cast<float>(sums.pos[l] / steps));
    record.goodness_neg.push_back(static_cast<float>(sums.neg[l] / steps));
  }
  return diverged;
}

// Per prediction mode, the accuracy and loss on `split`.
void evaluate_modes(Algorithm& algorithm, const data::Dataset& split, size_t modes, std::vector<double>& accuracy,
                    std::vector<double>& loss) {
  for (size_t mode = 0; mode < modes; ++mode) {
    const auto eval = algorithm.evaluate(split.x.data(), split.y.data(), split.n, static_cast<int>(mode));
    accuracy.push_back(eval.accuracy);
    loss.push_back(eval.loss);
  }
}

// An epoch's evaluation, timed: on the validation split (each mode's best epoch kept) or on test;
// whether the run has collapsed (`chance_streak`: evaluations in a row at chance level); with a
// validation split, the test split for the final model (`last`, or collapsed).
void evaluate_epoch(Algorithm& algorithm, const TrainConfig& config, const data::Splits& data, bool last,
                    EpochRecord& record, TrainResult& result, int64_t& chance_streak) {
  const bool validate = data.validation.n > 0;
  const size_t modes = result.modes.size();
  const auto eval_start = Clock::now();
  if (validate) {
    evaluate_modes(algorithm, data.validation, modes, record.validation_accuracy, record.validation_loss);
    for (size_t mode = 0; mode < modes; ++mode)
      if (record.validation_accuracy[mode] > result.best_validation_accuracy[mode]) {
        result.best_validation_accuracy[mode] = record.validation_accuracy[mode];
        result.best_epoch[mode] = record.epoch;
      }
  } else {
    evaluate_modes(algorithm, data.test, modes, record.test_accuracy, record.test_loss);
  }
  const auto& judged = validate ? record.validation_accuracy : record.test_accuracy;
  if (const auto why = collapse_reason(record, judged, data.train.k, config.collapse_evaluations, chance_streak); !why.empty()) {
    result.status = PointStatus::collapsed;
    result.detail = why;
  }
  // With a validation split the test split is seen once: by the final model.
  if (validate && (last || result.status == PointStatus::collapsed)) evaluate_modes(algorithm, data.test, modes, record.test_accuracy, record.test_loss);
  record.eval_seconds = seconds_since(eval_start);
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
  const BatchSlice slice = batch_slice(config.batch, algorithm.distributed_mode(), comm);
  algorithm.setup(result.spec, slice.size, config.seed);
  if (!config.load_path.empty()) algorithm.load(config.load_path);
  result.modes = algorithm.prediction_modes();
  if (validate) {
    result.best_epoch.assign(result.modes.size(), 0);
    result.best_validation_accuracy.assign(result.modes.size(), -1.0);
  }
  EpochBatches batches(data.train, config, slice.offset);
  double total_train_seconds = 0.0;
  int64_t chance_streak = 0;
  for (int64_t epoch = 0; epoch < config.epochs; ++epoch) {
    EpochRecord record;
    record.epoch = epoch + 1;
    const bool diverged = train_epoch(algorithm, batches, epoch, config.epochs, on_step, record, result);
    total_train_seconds += record.epoch_seconds;
    record.train_seconds = total_train_seconds;
    const bool budget_spent = on_any_rank(comm, config.time_budget_seconds > 0.0 && total_train_seconds >= config.time_budget_seconds);
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
    evaluate_epoch(algorithm, config, data, last, record, result, chance_streak);
    result.epochs.push_back(record);
    if (on_epoch) on_epoch(record, result);
    if (budget_spent || result.status == PointStatus::collapsed) break;
  }
  finish_transfers(algorithm);
  return result;
}

}  // namespace ffb
