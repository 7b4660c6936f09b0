// Forward-Forward (Hinton 2022), supervised: every layer learns locally to give positive data
// (image + true label) high goodness and negative data (image + wrong label) low goodness.
// The family's knobs are options; a variant with its own learning rule derives from this class and
// overrides pair_loss (see ff_symba). See README.md beside this file for the math and shapes.
#pragma once
#include <array>
#include <vector>

#include "algorithms/backend/kernels.hpp"
#include "algorithms/ff/ff_classifier.hpp"
#include "algorithms/layer_pipeline.hpp"
#include "algorithms/layers.hpp"

namespace ffb {

class ForwardForward : public Algorithm {
 public:
  explicit ForwardForward(const nlohmann::json& options, const std::string& name = "ff",
                          std::vector<OptionInfo> declared = declared_options());
  ~ForwardForward() override;
  static std::vector<OptionInfo> declared_options();

  std::string name() const override { return name_; }
  void begin_epoch(int64_t epoch, int64_t total_epochs) override;
  std::vector<std::string> prediction_modes() const override;
  void scores(const float* x, int64_t rows, int mode, float* out_scores) override;
  double flops_per_sample(Phase phase, int mode = 0) const override;
  int diagnostic_layers() const override { return static_cast<int>(layers_.size()); }
  // Goodness-prediction accuracy of one layer alone.
  double evaluate_layer(const float* x, const int32_t* labels, int64_t n, int layer) override;
  // Distributed pipeline (schedule "pipelined", no classifier): this rank's block of layers.
  std::string distribution_problem(DistributedMode mode) const override;
  LayerPipeline* pipeline() const override;
  // The contiguous blocks of layers `ranks` ranks own, balancing in*out per block (the largest
  // block as small as possible): ranks+1 boundaries, block r is [bounds[r], bounds[r+1]).
  static std::vector<int64_t> partition_layers(const std::vector<double>& costs, int ranks);

  // The negatives of the last train_step (B labels), for tests.
  const int32_t* last_negative_labels() const;
  // Goodness-mode scores computed the plain way (one full pass per label), for tests and for
  // measuring what the shared first-layer product saves.
  void scores_goodness_naive(const float* x, int64_t rows, float* out_scores);
  // Which layers feed goodness prediction and the softmax classifier.
  int64_t first_goodness_layer() const { return settings_.goodness_skip_first && depth() > 1 ? 1 : 0; }
  int64_t first_classifier_layer() const { return settings_.classifier_skip_first && depth() > 1 ? 1 : 0; }
  const SoftmaxClassifier& classifier() const { return classifier_; }

 protected:
  void plan_buffers(MemoryPlan& plan) override;  // the setup contract (algorithm.hpp)
  void init_weights(Rng& rng) override;
  StepStats step(const float* x, const int32_t* labels) override;
  // The learning rule: given goodness g (2B: B positives then B negatives) of a layer of `width`
  // units, writes dLoss/dg into dg and returns the mean loss. FF: softplus(theta - g_pos) and
  // softplus(g_neg - theta), averaged over the 2B terms.
  virtual double pair_loss(const float* g, float* dg, int64_t b, int64_t width) const;
  // Whether pair_loss's dLoss/dg of a row depends on that row's goodness alone (FF's loss: yes,
  // so the layer pass computes it per row, fused with the goodness; SymBa's pairs rows: no).
  virtual bool row_local_loss() const { return true; }
  // FF's pair loss per row (row i < B positive, else negative) and its mean over the 2B rows.
  static float pair_row_margin(float g, bool positive, float theta) { return positive ? theta - g : g - theta; }
  static float pair_row_grad(float g, bool positive, float theta, float inv) {
    return (positive ? -1.0f : 1.0f) * kern::sigmoid(pair_row_margin(g, positive, theta)) * inv;
  }
  double pair_loss_value(const float* g, int64_t b, int64_t width) const;
  // The layer's threshold: `threshold` per unit, so times the width for sum goodness.
  double layer_threshold(int64_t width) const { return settings_.goodness_mean ? settings_.threshold : settings_.threshold * static_cast<double>(width); }
  // What the options chose, read once by the constructor; nothing changes it after.
  struct Settings {
    double threshold = 1.0;          // per unit (times the width for sum goodness)
    bool goodness_mean = false;      // goodness: mean (else sum) of squared activities
    kern::NormKind norm = kern::NormKind::l2;
    float norm_eps = 1e-4f;
    bool bf16 = false;
    int64_t lr_decay_start = 0;
    bool hard_negatives = false;     // negatives chosen from the classifier's probabilities (hard or sampled)
    bool sampled_negatives = false;  // drawn in proportion to them, not the most probable
    bool layerwise = false, pipelined = false;  // the schedule (else simultaneous)
    int64_t layer_epochs = 1, layer_steps = 0;  // layerwise: per layer
    bool has_classifier = true, classifier_skip_first = true, goodness_skip_first = true;
    bool keep_features = true;       // classifier_features: keep (else recompute)
    bool label_from_max = false;
    float label_value = 1.0f;
    float peer_normalization = 0.0f;
  };
  Settings settings_;

 private:
  int64_t depth() const { return static_cast<int64_t>(layers_.size()); }
  // Writes B rows of x with the label slots set: one-hot of labels, or neutral (1/K each) when
  // labels is nullptr. Rows beyond `rows` (padding) are zero.
  void embed(float* out, const float* x, const int32_t* labels, int64_t rows, int64_t out_rows) const;
  // One row of embed: the image with its label slots set (one-hot of *label, neutral when label is
  // nullptr); returns the value written in the label slot.
  float embed_row(float* row, const float* image, const int32_t* label) const;
  // embed, then normalize_forward, in one pass per row, written straight into the normalised
  // buffer (the same values, bit for bit): B neutral rows when `positive` is nullptr, else 2B rows,
  // the B images with their positive labels, then the same B images with their negative labels.
  void embed_normalized(float* out, float* scale, const float* x, int64_t b, const int32_t* positive,
                        const int32_t* negative) const;
  float label_value(const float* image) const;
  // Neutral-label pass through every layer, from the batch's images x; fills the classifier's
  // features and logits (B x K). `inference`: prediction's pass (the inference products, weights
  // packed where that pays).
  void neutral_forward(const float* x, bool gradient, bool inference = false);
  // Softmax loss and the classifier's update; the images x are read again when the features are
  // recomputed.
  void train_classifier(const float* x, const int32_t* labels, StepStats& stats);
  void choose_negatives(const int32_t* labels);
  void scores_goodness(const float* x, float* out_scores);
  // scores_goodness' parts: the label-free images and their scales; layer 1 for every label from
  // the one shared product (false: no later layer is needed); one row's goodness and normalisation.
  void label_free_inputs(const float* x);
  bool first_layer_scores(float* out_scores);
  void goodness_row(float* row, int64_t r, int64_t width, bool count, bool feed, float* out, float* out_scores) const;
  // Which layers' goodness counts in goodness prediction, and which feed the next layer.
  bool goodness_counts(int64_t l) const { return only_layer_ >= 0 ? l == only_layer_ : l >= first_goodness_layer(); }
  bool goodness_feeds(int64_t l) const { return l + 1 < depth() && !(only_layer_ >= 0 && l >= only_layer_); }
  // Updates layer l's running means and fills `coefficients` (H); returns the peer loss.
  double peer_normalization_step(int64_t l, const Mat& h, float* coefficients);
  // The buffers one layer's training work uses: shared by all layers in the simultaneous and
  // layer-wise schedules, one set per layer in the pipelined one (its layers run at the same time).
  struct LayerBuffers {
    BufferId hidden, scale, goodness, goodness_grad;
    MatmulOperand input, grad;  // the pair's normalised input and dLoss/dz as the products read them
    BufferId peer, scratch;
  };
  // A layer's two training products.
  struct TrainProducts {
    const Matmul* forward;      // 2B rows: normalised input * W + b, ReLU
    const Matmul* weight_grad;  // in x H = n^T (2B x in) * dz (2B x H)
  };
  // Layer l on its normalised 2B-row input: forward; the normalised output into `next` (unless
  // null); when `train`, the local loss, gradient and update. Fills stats' layer-l entries and
  // returns the pair loss (0 when not trained). Its parts below, one per phase of the step.
  double layer_pass(int64_t l, const LayerBuffers& buffers, const TrainProducts& products, const float* input, float* next,
                    bool train, StepStats& stats);
  struct LayerWork {  // what layer_pass's parts hand on
    int64_t l;
    const LinearParams& p;
    const LayerBuffers& buffers;
    void* scratch;
    float* hidden;      // 2B x H: the layer's output, then dLoss/dz in place
    const void* input;  // the normalised input as the products read it (bf16 copy or f32)
    bool train;
    bool fused;         // dLoss/dz written in the goodness pass (a row-local loss, no peer normalisation)
  };
  LayerWork layer_forward(int64_t l, const LayerBuffers& buffers, const Matmul& forward, const float* input, bool train);
  void goodness_and_next(const LayerWork& work, float* next);
  // The pair loss and the layer's statistics; `peer` is set to the peer-normalisation gradient when on.
  double layer_loss(const LayerWork& work, StepStats& stats, const float*& peer);
  void loss_gradient(const LayerWork& work, const float* peer);  // dLoss/dz over h, the bias gradient
  void layer_update(const LayerWork& work, const Matmul& weight_grad);
  // d(goodness)/dh = c h.
  float goodness_derivative(int64_t width) const { return settings_.goodness_mean ? 2.0f / static_cast<float>(width) : 2.0f; }
  // plan_buffers' parts: this rank's block of layers (distributed pipeline), the layers' and the
  // classifier's parameters, the activations, the products (training, inference, classifier).
  void plan_rank_block();
  void plan_parameters(MemoryPlan& plan);
  void plan_activations(MemoryPlan& plan);
  void create_products(MemoryPlan& plan);
  bool owns(int64_t l) const { return l >= owned_first_ && l < owned_last_; }
  // Distributed pipeline: the block boundary's transfers around this step's layer work.
  void boundary_before_step();
  void boundary_after_step();

  void weights_changed() override;
  // The step's parts (StepPhases), in the order a step runs them.
  enum Part : size_t { kNeutral, kClassifier, kNegatives, kInputs, kForward, kGoodness, kLoss, kBiasGrad, kWeightGrad, kUpdate, kPipelined };
  std::string name_;
  OptimizerConfig optimizer_, classifier_optimizer_;  // the classifier's as configured (its lr before decay)
  float base_lr_ = 0.0f;  // before the epoch's lr_decay_start factor

  std::vector<LinearParams> layers_;
  SoftmaxClassifier classifier_;  // when settings_.has_classifier
  std::vector<BufferId> peer_means_;    // per layer: running mean activity per unit
  BufferId embedded_;                   // B x D: prediction's label-free input (training writes its
                                        // inputs normalised straight into normalized_a_)
  BufferId normalized_a_, normalized_b_;  // 2B x Hmax ping-pong: normalised layer inputs
  BufferId hidden_;                     // 2B x Hmax: layer output, then reused for dz in place
  BufferId scale_, goodness_, goodness_grad_;  // 2B each
  BufferId negatives_;                         // B labels
  BufferId label_values_;                      // 2B: the value written in each row's label slot
  // Goodness prediction: K*B rows at once.
  BufferId predict_hidden_, predict_norm_, first_product_;
  BufferId peer_coefficients_;          // Hmax: peer-normalisation gradient per unit

  struct LayerOps {
    const Matmul* forward_pair;   // 2B rows: normalised input * W + b, ReLU
    const Matmul* weight_grad;    // in x H = n^T (2B x in) * dz (2B x H)
    const Matmul* forward_single; // B rows (neutral pass)
    // Inference (softmax prediction's pass; goodness prediction's K*B rows, layers >= 1): the
    // weights read packed where that pays (packing_choice).
    InferenceProduct infer_single, infer_labels;
  };
  std::vector<LayerOps> ops_;
  std::vector<PackedWeights> packed_weights_;  // per layer, for inference
  LayerBuffers shared_buffers_{};
  class PipelinedSchedule;
  std::unique_ptr<PipelinedSchedule> schedule_;  // schedule "pipelined": made by setup
  InferenceProduct first_product_op_;  // B rows, no bias, no ReLU: the shared layer-1 product of goodness prediction
  Rng negative_rng_{0};
  int64_t step_ = 0;
  int64_t epoch_ = 0;
  int64_t trained_layer_ = -1;
  int64_t owned_first_ = 0, owned_last_ = 0;  // the layers this process trains: all, or its pipeline block
  std::vector<int64_t> layer_bounds_;          // distributed pipeline: block boundaries per rank
  class RankBlock;
  std::unique_ptr<RankBlock> rank_block_;      // distributed pipeline: made by setup in pipeline mode
  int64_t only_layer_ = -1;  // goodness prediction from this layer alone (diagnostics); -1: normal
};

// The pipeline across ranks (layer_pipeline.hpp): this rank's block of layers, its transfers, the
// weights gathered from every block's owner (ff_distributed.cpp).
// The pipelined schedule (ff_pipeline.cpp): step s, layer 0 takes this step's batch; layer l >= 1
// takes what layer l-1 wrote in step s-1 and writes its own output for layer l+1; all layers at
// once, each on its own thread (longest first onto the least loaded), with its own buffers and
// 1-thread products. In a distributed pipeline it runs this rank's block, and a block's first input
// slots are where the rank before's output arrives.
class ForwardForward::PipelinedSchedule {
 public:
  explicit PipelinedSchedule(ForwardForward& ff) : ff_(ff) {}
  void plan(MemoryPlan& plan);              // per layer its buffers, input slots and products; the threads
  void plan_scratchpads(MemoryPlan& plan);  // after every product exists (a scratchpad per layer)
  double pass(const float* first_input, StepStats& stats);  // one step's layer work; the summed pair loss
  float* input(int64_t l, int slot) const { return ff_.arena_.floats(inputs_[static_cast<size_t>(l)][static_cast<size_t>(slot)]); }

 private:
  ForwardForward& ff_;
  std::vector<LayerBuffers> buffers_;
  std::vector<TrainProducts> products_;
  std::vector<std::array<BufferId, 2>> inputs_;       // two slots: one written while the other is read
  std::vector<std::vector<int64_t>> thread_layers_;  // per thread of the team: its layers, in order
  int threads_ = 1;
};

class ForwardForward::RankBlock final : public LayerPipeline {
 public:
  explicit RankBlock(ForwardForward& ff) : ff_(ff) {}
  std::pair<int64_t, int64_t> owned_layers() const override { return {ff_.owned_first_, ff_.owned_last_}; }
  void finish_transfers() override;
  void gather_weights() override;

 private:
  ForwardForward& ff_;
};

}  // namespace ffb
