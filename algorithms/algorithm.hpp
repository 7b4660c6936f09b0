// The interface every training algorithm implements, and the pieces they share (options, the arena,
// the matmul cache). The harness sees algorithms only through this header and the registry.
//
// Life cycle: create (options validated) -> setup(spec, batch, seed) (plans buffers, creates every
// matmul primitive, makes the one arena allocation, initialises weights) -> train_step / predict
// many times (no allocation, no primitive creation) -> save / load.
// Shape vocabulary: B batch, D input size, H hidden size, K classes, L hidden layers.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <utility>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "algorithms/backend/arena.hpp"
#include "algorithms/backend/communicator.hpp"
#include "algorithms/backend/matmul.hpp"
#include "algorithms/backend/phases.hpp"

namespace ffb {

class Rng;
constexpr int kMaxLayers = 64;

struct ModelSpec {
  int64_t input = 784;               // D
  std::vector<int64_t> hidden;       // H per hidden layer; depth L = hidden.size()
  int classes = 10;                  // K
  std::string describe() const;      // e.g. "[784,500,500]->10"
};

// What one training step did. Fixed-size so returning it allocates nothing.
struct StepStats {
  double loss = 0.0;                 // the algorithm's training objective, averaged over the batch
  double classifier_loss = 0.0;      // FF: loss of the softmax classifier trained alongside
  int layers = 0;                    // entries used in the per-layer arrays (0 for end-to-end losses)
  float layer_loss[kMaxLayers] = {};
  // Per-layer diagnostics: FF's mean positive / negative goodness; other local algorithms put the
  // activity measure their README names here (mono_forward: sum of squares, in goodness_pos only).
  // The harness calls a layer dead when both stay 0 for an epoch.
  float goodness_pos[kMaxLayers] = {};
  float goodness_neg[kMaxLayers] = {};
  int64_t samples = 0;
};

struct Evaluation {
  double accuracy = 0.0;
  double loss = 0.0;  // mean cross-entropy of the mode's class scores
  int64_t samples = 0;
};

// One declared option: its name, default (as JSON) and a one-line description.
struct OptionInfo {
  std::string name;
  nlohmann::json default_value;
  std::string help;
  // Numeric options: the allowed range (a learning rate of -1 is an error, not a run of garbage).
  double min_value = -std::numeric_limits<double>::infinity();
  double max_value = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;  // true: the value must be strictly above min_value
};

// Options given by the user, checked against the declared ones. An unknown option, or a value of
// the wrong type, is an error that names the known options.
class Options {
 public:
  Options(const std::string& owner, const std::vector<OptionInfo>& known, const nlohmann::json& given);
  double number(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  bool flag(const std::string& name) const;
  std::string text(const std::string& name) const;
  // Checks that a text option is one of `allowed`, with an error listing them.
  std::string choice(const std::string& name, const std::vector<std::string>& allowed) const;
  const nlohmann::json& values() const { return values_; }

 private:
  const nlohmann::json& get(const std::string& name) const;
  std::string owner_;
  nlohmann::json values_;
};

enum class Phase { train, inference };

// An inference product (fixed weights, f32) and, when packing_choice chose it for this shape, its
// twin that reads the weights packed in oneDNN's preferred layout (Algorithm::inference_op makes both).
struct InferenceProduct {
  const Matmul* plain = nullptr;
  const Matmul* packed = nullptr;  // nullptr: the plain product runs
};

// One weight matrix packed for inference: a buffer planned once (Algorithm::plan_packed_weights),
// refilled only when the weights changed since (the algorithm's weights version) or another
// product's layout is in it, so a whole evaluation packs each weight once.
struct PackedWeights {
  BufferId buffer;  // invalid: no product of this weight packs
  const Matmul* packed_for = nullptr;
  uint64_t version = 0;

  // C = A W (+ bias) (ReLU) as `product` says, reading W packed when its packed twin was chosen.
  void run(const Arena& arena, const InferenceProduct& product, const void* a, const float* w, float* c,
           const float* bias, void* scratch, uint64_t weights_version);
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;

  virtual std::string name() const = 0;
  // Plans every buffer, creates the primitives for batch B, allocates, initialises weights: the
  // setup contract (plan_buffers, then init_weights; see below). It is the contract's, not an override
  // point: an algorithm says what it needs through plan_buffers and init_weights.
  void setup(const ModelSpec& spec, int64_t batch, uint64_t seed);
  // One update on rows == B samples (x: B x D, labels: B). Allocation-free. Runs the algorithm's step().
  StepStats train_step(const float* x, const int32_t* labels);
  // The harness calls this before each epoch (layer-wise schedules and learning-rate decay use it).
  virtual void begin_epoch(int64_t epoch, int64_t total_epochs) { (void)epoch; (void)total_epochs; }
  // Prediction modes this algorithm offers; the first is its default.
  virtual std::vector<std::string> prediction_modes() const = 0;
  // Class scores (B x K, higher is more likely) for rows <= B samples in the given mode.
  virtual void scores(const float* x, int64_t rows, int mode, float* out_scores) = 0;
  // Analytic FLOPs per sample: training step, or inference in the given mode.
  virtual double flops_per_sample(Phase phase, int mode = 0) const = 0;
  // Optional diagnostics: layers that can classify on their own (FF: goodness of one layer), and
  // the test accuracy of one of them.
  virtual int diagnostic_layers() const { return 0; }
  virtual double evaluate_layer(const float* x, const int32_t* labels, int64_t n, int layer) {
    (void)x; (void)labels; (void)n; (void)layer;
    return 0.0;
  }

  // Shared implementations.
  int mode_index(const std::string& mode) const;  // throws listing the modes
  // Accuracy and cross-entropy of the mode's scores over a dataset (x: n x D row-major).
  Evaluation evaluate(const float* x, const int32_t* labels, int64_t n, int mode);
  void predict(const float* x, int64_t rows, int mode, int32_t* out_labels);

  // Weights file (see algorithms/README.md): magic, version, algorithm, spec, then every
  // weights-category buffer by name. load() checks that everything matches before copying.
  void save(const std::string& path) const;
  void load(const std::string& path);

  const Arena& arena() const { return arena_; }
  // Writable access may change the weights: packed inference copies are refilled after it.
  Arena& arena() {
    ++weights_version_;
    return arena_;
  }
  const ModelSpec& spec() const { return spec_; }
  int64_t batch() const { return batch_; }
  const Options& options() const { return *options_; }
  const MatmulCache& matmuls() const { return matmuls_; }
  // The step's parts and their accumulated wall time (empty where an algorithm names none).
  const StepPhases& phases() const { return phases_; }

  // Distributed training (algorithms/backend/communicator.hpp). Called before setup(); throws,
  // saying why and what to use instead, when the algorithm cannot train in that mode. In "data"
  // mode setup() gets the per-rank batch (the global batch / ranks) and every gradient is averaged
  // over the ranks before its update; "pipeline" is for layer-local algorithms (supports_pipeline).
  void distribute(DistributedMode mode, Communicator* comm);
  // Why this algorithm, with its options, cannot train in `mode` (empty: it can). Data mode is open
  // to every algorithm that averages its gradients with average_gradients; pipeline needs
  // layer-local learning.
  virtual std::string distribution_problem(DistributedMode mode) const;
  DistributedMode distributed_mode() const { return mode_; }
  Communicator* communicator() const { return comm_; }
  // Pipeline mode: before an evaluation (or saving), every rank gets every layer's current weights
  // from the rank that owns it. A no-op otherwise.
  virtual void gather_weights() {}
  // Pipeline mode: completes the transfers still in flight (call once, after the last step).
  virtual void finish_transfers() {}
  // Pipeline mode: the layers this rank trains, [first, last); all of them otherwise.
  virtual std::pair<int64_t, int64_t> owned_layers() const { return {0, static_cast<int64_t>(spec_.hidden.size())}; }

 protected:
  explicit Algorithm(std::unique_ptr<Options> options) : options_(std::move(options)) {}
  // Called by setup() implementations: validates the spec and stores it.
  void begin_setup(const ModelSpec& spec, int64_t batch);
  // Matmul primitive for a shape, created now (during setup) and kept.
  const Matmul& matmul_op(const MatmulShape& shape) { return matmuls_.get(shape); }
  // An f32 inference product of fixed weights (B = W): the plain primitive, and its packed twin
  // where packing_choice chose packing for the shape. `packed_bytes` grows to the packed layout's
  // size wherever oneDNN prefers another layout (chosen or not, so the arena plan does not depend
  // on a timing; nothing with FFB_PACKED_WEIGHTS=off); plan it with plan_packed_weights.
  InferenceProduct inference_op(const MatmulShape& shape, int64_t& packed_bytes);
  // Plans a packed copy of one weight matrix (scratch) when `bytes` > 0.
  static PackedWeights plan_packed_weights(MemoryPlan& plan, const std::string& name, int64_t bytes);
  // Changes whenever the weights may have changed (a step, setup, load, writable arena access).
  uint64_t weights_version() const { return weights_version_; }
  // Weights replaced outside a step (initialised, loaded, gathered from other ranks): a new
  // version (packed copies are refilled), then weights_changed.
  void weights_replaced() {
    ++weights_version_;
    weights_changed();
  }
  // Scores rows in chunks of B and hands each row's K scores to `visit` (predict and evaluate).
  void for_each_scored_row(const float* x, int64_t rows, int mode, const std::function<void(int64_t, const float*)>& visit);
  // Called after load() replaced the weights, and after init_weights (bf16 working copies are
  // refreshed here).
  virtual void weights_changed() {}

  // The setup contract. setup() checks the spec, plans the input and score buffers (input_buffer_,
  // score_buffer_), calls plan_buffers, plans the matmul scratchpad for every primitive created so
  // far, makes the arena's one allocation, calls init_weights with an Rng seeded by the seed, then
  // weights_changed. plan_buffers must plan every buffer and create every primitive (matmul_op) a
  // step or a prediction uses; spec_ and batch_ are already set.
  virtual void plan_buffers(MemoryPlan& plan);
  virtual void init_weights(Rng& rng);
  void* scratchpad() const { return arena_.raw(scratchpad_); }
  // For scores(): x itself when rows == B; else the rows copied into input_buffer_ and zero-padded
  // to B (the primitives exist for B rows only).
  const float* padded_input(const float* x, int64_t rows);
  // The row-wise argmax of scores (B x K), as predict() and evaluate() use.
  static int64_t best_class(const float* row, int64_t classes);
  // The algorithm's training step (see train_step).
  virtual StepStats step(const float* x, const int32_t* labels) = 0;
  // Ends setup: makes the arena's one allocation.
  void finish_setup(MemoryPlan& plan);
  // Data mode: replaces n gradient values by their mean over the ranks (allreduce); a no-op otherwise.
  void average_gradients(float* gradient, int64_t n);

  DistributedMode mode_ = DistributedMode::none;
  Communicator* comm_ = nullptr;

  ModelSpec spec_;
  int64_t batch_ = 0;
  std::unique_ptr<Options> options_;
  MatmulCache matmuls_;
  StepPhases phases_;  // named in plan_buffers, lapped by step()
  Arena arena_;
  BufferId score_buffer_;   // B x K, planned by every algorithm for evaluate()
  BufferId input_buffer_;   // B x D, planned by every algorithm for padded prediction
  BufferId scratchpad_;     // the matmul primitives' scratchpad (the setup contract plans it)
  uint64_t seed_ = 0;       // setup's seed (the setup contract stores it before plan_buffers)
  uint64_t weights_version_ = 1;
};

// Registry: the one explicit list of algorithms (registry.cpp).
// A test accuracy the algorithm's source published, shown in the report beside the suite's own
// figure. The setups differ (network, epochs, augmentation): `setup` says the source's.
struct PublishedAccuracy {
  std::string dataset;  // a registered dataset name
  double accuracy = 0.0;
  std::string setup;
  std::string source;
};

struct AlgorithmInfo {
  std::string name;
  std::string summary;
  std::vector<OptionInfo> options;
  std::unique_ptr<Algorithm> (*create)(const nlohmann::json& options);
  bool layer_local = false;  // every layer learns from what reaches it from below (no backward pass across layers)
  std::vector<PublishedAccuracy> published = {};
};

const std::vector<AlgorithmInfo>& registered_algorithms();
const AlgorithmInfo& find_algorithm(const std::string& name);  // throws listing the registered ones
std::unique_ptr<Algorithm> create_algorithm(const std::string& name, const nlohmann::json& options);

}  // namespace ffb
