// The interface every training algorithm implements, and its life cycle:
//   create (registry.hpp; options checked) -> [distribute] -> setup(spec, batch, seed): plan_buffers
//   (every buffer planned, every matmul primitive created), the arena's one allocation, init_weights
//   -> train_step / predict / evaluate many times (no allocation, no primitive creation) -> save / load.
// Which base a new variant starts from: algorithms/README.md. Options: options.hpp; packed inference
// weights: packed_weights.hpp; the pipeline across ranks: layer_pipeline.hpp (optional component).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "algorithms/backend/arena.hpp"
#include "algorithms/backend/communicator.hpp"
#include "algorithms/backend/matmul.hpp"
#include "algorithms/backend/phases.hpp"
#include "algorithms/model.hpp"
#include "algorithms/options.hpp"
#include "algorithms/packed_weights.hpp"

namespace ffb {

class Rng;
class LayerPipeline;

class Algorithm {
 public:
  virtual ~Algorithm() = default;

  // --- What every algorithm implements.
  virtual std::string name() const = 0;
  virtual std::vector<std::string> prediction_modes() const = 0;  // the first is the default
  // Class scores (rows x K, higher is more likely) for rows <= B samples in the given mode.
  virtual void scores(const float* x, int64_t rows, int mode, float* out_scores) = 0;
  // Analytic FLOPs per sample: training step, or inference in the given mode.
  virtual double flops_per_sample(Phase phase, int mode = 0) const = 0;

  // --- Optional, each with its default.
  // Before each epoch (layer-wise schedules, learning-rate decay). Default: nothing.
  virtual void begin_epoch(int64_t epoch, int64_t total_epochs) { (void)epoch; (void)total_epochs; }
  // Layers that classify on their own (FF: one layer's goodness), and one's accuracy. Default: none.
  virtual int diagnostic_layers() const { return 0; }
  virtual double evaluate_layer(const float* x, const int32_t* labels, int64_t n, int layer);
  // Why it cannot train in `mode` (empty: it can). Default: data mode yes (gradients through
  // average_gradients), pipeline no (it needs layer-local learning and a pipeline()).
  virtual std::string distribution_problem(DistributedMode mode) const;
  // The pipeline across ranks while training in pipeline mode; nullptr otherwise (the default).
  virtual LayerPipeline* pipeline() const { return nullptr; }

  // --- The contract's, shared by all.
  void setup(const ModelSpec& spec, int64_t batch, uint64_t seed);
  StepStats train_step(const float* x, const int32_t* labels);  // B rows; runs step()
  int mode_index(const std::string& mode) const;                 // throws listing the modes
  Evaluation evaluate(const float* x, const int32_t* labels, int64_t n, int mode);  // x: n x D
  void predict(const float* x, int64_t rows, int mode, int32_t* out_labels);
  // Weights file (algorithms/README.md): every weights-category buffer by name; load() checks
  // everything before copying.
  void save(const std::string& path) const;
  void load(const std::string& path);
  // Before setup: mode none, data (setup gets the per-rank batch, gradients averaged over the ranks)
  // or pipeline; throws saying why when distribution_problem objects.
  void distribute(DistributedMode mode, Communicator* comm);

  const Arena& arena() const { return arena_; }
  Arena& arena() {  // writable access may change the weights: packed copies are refilled after it
    ++weights_version_;
    return arena_;
  }
  const ModelSpec& spec() const { return spec_; }
  int64_t batch() const { return batch_; }
  const Options& options() const { return *options_; }
  const MatmulCache& matmuls() const { return matmuls_; }
  const StepPhases& phases() const { return phases_; }  // the step's parts and their wall time
  DistributedMode distributed_mode() const { return mode_; }
  Communicator* communicator() const { return comm_; }

 protected:
  explicit Algorithm(std::unique_ptr<Options> options) : options_(std::move(options)) {}

  // --- The setup contract: plan every buffer and create every primitive a step or a prediction
  // uses (spec_, batch_ and seed_ are set; input and score buffers are planned by setup), then
  // initialise the weights in the allocated arena. weights_changed follows init and load (bf16
  // working copies are refreshed there; default: nothing).
  virtual void plan_buffers(MemoryPlan& plan) = 0;
  virtual void init_weights(Rng& rng) = 0;
  virtual void weights_changed() {}
  // The training step on B rows (see train_step). Allocation-free.
  virtual StepStats step(const float* x, const int32_t* labels) = 0;

  // --- Tools for implementations.
  const Matmul& matmul_op(const MatmulShape& shape) { return matmuls_.get(shape); }  // during setup only
  // An f32 inference product of fixed weights, and its packed twin where packing_choice chose
  // packing; `packed_bytes` grows to the packed layout's size (plan it with plan_packed_weights).
  InferenceProduct inference_op(const MatmulShape& shape, int64_t& packed_bytes);
  static PackedWeights plan_packed_weights(MemoryPlan& plan, const std::string& name, int64_t bytes);
  uint64_t weights_version() const { return weights_version_; }
  void weights_replaced() {  // weights set outside a step (init, load, gathered): packed copies refill
    ++weights_version_;
    weights_changed();
  }
  void* scratchpad() const { return arena_.raw(scratchpad_); }
  // x itself when rows == B, else the rows copied into a B-row buffer, zero-padded.
  const float* padded_input(const float* x, int64_t rows);
  void average_gradients(float* gradient, int64_t n);  // data mode: the mean over the ranks

  DistributedMode mode_ = DistributedMode::none;
  Communicator* comm_ = nullptr;
  ModelSpec spec_;
  int64_t batch_ = 0;
  uint64_t seed_ = 0;
  std::unique_ptr<Options> options_;
  MatmulCache matmuls_;
  StepPhases phases_;  // named in plan_buffers, lapped by step()
  Arena arena_;
  BufferId score_buffer_;  // B x K, for evaluate()
  BufferId scratchpad_;    // the matmul primitives' scratchpad (scratchpad() reads it)

 private:
  // Scores rows in chunks of B and hands each row's K scores to `visit`.
  void for_each_scored_row(const float* x, int64_t rows, int mode, const std::function<void(int64_t, const float*)>& visit);
  BufferId input_buffer_;  // B x D, for padded_input
  uint64_t weights_version_ = 1;
};

}  // namespace ffb
