// One training run as the harness sees it: load data, build the algorithm from the registry,
// train epoch by epoch (training time and evaluation time measured apart), evaluate every
// prediction mode after each epoch, and stop early on divergence (NaN/Inf loss). With a validation
// split, the per-epoch evaluations (and every choice made from them) use it, and the test split is
// evaluated once, for the final model.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "algorithms/algorithm.hpp"
#include "datasets/dataset.hpp"

#include "bench/harness/point_status.hpp"

namespace ffb {

struct TrainConfig {
  std::string algorithm = "ff";
  nlohmann::json options = nlohmann::json::object();
  data::DatasetSpec dataset;
  std::vector<int64_t> hidden = {500, 500};
  int64_t batch = 128;
  int64_t epochs = 1;
  int64_t eval_every = 1;            // evaluate (and record the epoch) after every N-th epoch and the last
  double time_budget_seconds = 0.0;  // > 0: stop after the epoch that crosses it
  uint64_t seed = 1;
  int threads = 0;                   // 0: all hardware threads
  std::string load_path;             // start from these weights (ffbench weights file) instead of the seed's
  int64_t collapse_evaluations = 3;  // this many evaluations in a row at chance level: status "collapsed"
};

struct EpochRecord {
  int64_t epoch = 0;                 // 1-based
  double train_loss = 0.0;           // mean of the step losses
  double classifier_loss = 0.0;
  double train_seconds = 0.0;        // cumulative training wall time, evaluation excluded
  double epoch_seconds = 0.0;        // this epoch's training wall time
  double eval_seconds = 0.0;         // this epoch's evaluation wall time
  double samples_per_second = 0.0;   // training throughput of this epoch
  std::vector<double> test_accuracy; // per prediction mode; with a validation split only at the final epoch
  std::vector<double> test_loss;
  std::vector<double> validation_accuracy;  // per prediction mode, when there is a validation split
  std::vector<double> validation_loss;
  std::vector<float> layer_loss, goodness_pos, goodness_neg;  // FF diagnostics (last step's means over the epoch)
  std::vector<BufferCensus> census;  // subnormal and zero values per f32 buffer, sampled after the epoch's training
};

struct TrainResult {
  PointStatus status = PointStatus::ok;  // ok | diverged | collapsed (chance-level accuracy, or a dead layer)
  std::string detail;
  std::vector<std::string> modes;
  std::vector<EpochRecord> epochs;
  ModelSpec spec;
  int64_t train_samples = 0, test_samples = 0, validation_samples = 0;
  // "validation": evaluations after each epoch on the validation split, the test split once at the
  // end; "none (test every epoch)": no validation split, the test split after every evaluated epoch.
  std::string selection;
  // Per prediction mode: the evaluated epoch with the highest validation accuracy (the first of
  // equals) and that accuracy; empty without a validation split.
  std::vector<int64_t> best_epoch;
  std::vector<double> best_validation_accuracy;
  // Distributed runs: this rank's own training time (the epochs' seconds are the slowest rank's)
  // and its communication during the training steps (evaluation's weight gathering excluded).
  double rank_train_seconds = 0.0;
  CommStats comm;
};

using EpochCallback = std::function<void(const EpochRecord&, const TrainResult&)>;
using StepCallback = std::function<void(int64_t epoch, int64_t step, int64_t steps, double loss)>;

// Trains `algorithm` (already created, not yet set up) on loaded data. Stops early when the loss
// is not finite (diverged) or the run has collapsed: the best prediction mode at chance level
// (below 1.5/K) for `collapse_evaluations` evaluations in a row, or a layer whose every unit gave
// zero goodness for a whole epoch (dead ReLUs never recover). When data.validation is not empty,
// each evaluated epoch is evaluated on it (collapse is judged on it too) and the test split only
// after the final epoch (the last, or the one where the run stopped).
TrainResult train(Algorithm& algorithm, const TrainConfig& config, const data::Splits& data,
                  const EpochCallback& on_epoch = {}, const StepCallback& on_step = {});

ModelSpec model_spec(const TrainConfig& config, const data::Dataset& train);

// Distributed runs (collective: every rank calls it): every rank's training time, compute (its
// training time less its time in MPI calls), communication time and bytes, and owned layers:
// {"mode", "ranks", "threads_per_rank", "per_rank": [{"rank", "layers", "train_seconds", ...}]}.
nlohmann::json distributed_stats(const Algorithm& algorithm, Communicator& comm, const TrainResult& result);

}  // namespace ffb
