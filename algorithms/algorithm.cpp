// The algorithm contract's shared parts (algorithm.hpp): setup, evaluation, the weights file, distribution.
#include "algorithms/algorithm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "algorithms/backend/ceiling.hpp"
#include "algorithms/backend/parallel.hpp"
#include "common/rng.hpp"

namespace ffb {

std::string to_string(DistributedMode mode) {
  switch (mode) {
    case DistributedMode::data: return "data";
    case DistributedMode::pipeline: return "pipeline";
    default: return "none";
  }
}

DistributedMode distributed_mode_from(const std::string& text) {
  if (text == "none") return DistributedMode::none;
  if (text == "data") return DistributedMode::data;
  if (text == "pipeline") return DistributedMode::pipeline;
  throw std::invalid_argument(fmt::format("distributed mode '{}' is not one of: none, data (each rank a slice of the "
                                          "batch, gradients averaged), pipeline (each rank a block of layers)", text));
}

void Algorithm::distribute(DistributedMode mode, Communicator* comm) {
  if (mode != DistributedMode::none && comm == nullptr)
    throw std::invalid_argument(fmt::format("{}: distributed mode '{}' needs a communicator (run under mpirun)", name(),
                                            to_string(mode)));
  if (mode != DistributedMode::none) {
    if (const auto why = distribution_problem(mode); !why.empty())
      throw std::invalid_argument(fmt::format("{}: cannot train with --distributed {}: {}", name(), to_string(mode), why));
  }
  mode_ = mode;
  comm_ = mode == DistributedMode::none ? nullptr : comm;
}

std::string Algorithm::distribution_problem(DistributedMode mode) const {
  if (mode == DistributedMode::pipeline)
    return "its layers do not learn locally (a backward pass crosses them); use --distributed data";
  return {};
}

void Algorithm::average_gradients(float* gradient, int64_t n) {
  if (mode_ != DistributedMode::data || comm_ == nullptr || comm_->size() == 1) return;
  comm_->allreduce_sum(gradient, n);
  const float inverse = 1.0f / static_cast<float>(comm_->size());
  parallel_for(n, [&](int64_t i) { gradient[i] *= inverse; }, n > 65536);
}

std::string ModelSpec::describe() const {
  std::string text = fmt::format("[{}", input);
  for (auto h : hidden) text += fmt::format(",{}", h);
  return text + fmt::format("]->{}", classes);
}

namespace {
// The spec and batch setup() accepts; an impossible one is an error naming the problem.
void check_setup(const std::string& algorithm, const ModelSpec& spec, int64_t batch) {
  if (spec.input <= 0 || spec.classes < 2)
    throw std::invalid_argument(fmt::format("{}: impossible model {}: need input >= 1 and classes >= 2", algorithm,
                                            spec.describe()));
  if (spec.hidden.size() > static_cast<size_t>(kMaxLayers))
    throw std::invalid_argument(fmt::format("{}: {} hidden layers; at most {} are supported", algorithm,
                                            spec.hidden.size(), kMaxLayers));
  for (auto h : spec.hidden)
    if (h <= 0)
      throw std::invalid_argument(fmt::format("{}: impossible model {}: every hidden size must be >= 1", algorithm,
                                              spec.describe()));
  if (batch <= 0) throw std::invalid_argument(fmt::format("{}: batch must be >= 1, got {}", algorithm, batch));
}

// The row-wise argmax of class scores, as predict() and evaluate() use.
int64_t best_class(const float* row, int64_t classes) {
  int64_t best = 0;
  for (int64_t c = 1; c < classes; ++c)
    if (row[c] > row[best]) best = c;
  return best;
}
}  // namespace

InferenceProduct Algorithm::inference_op(const MatmulShape& shape, int64_t& packed_bytes) {
  InferenceProduct product;
  product.plain = &matmul_op(shape);
  if (!packing_enabled()) return product;  // off: no packed twin, no bytes planned for one
  MatmulShape twin = shape;
  twin.packed_b = true;
  const Matmul& packed = matmul_op(twin);
  if (!packed.packed_layout_differs()) return product;
  packed_bytes = std::max(packed_bytes, packed.packed_b_bytes());
  if (packing_choice(shape).packed) product.packed = &packed;
  return product;
}

PackedWeights Algorithm::plan_packed_weights(MemoryPlan& plan, const std::string& name, int64_t bytes) {
  PackedWeights packed;
  if (bytes > 0) packed.buffer = plan.add_bytes(name, MemCategory::scratch, bytes);
  return packed;
}

void Algorithm::setup(const ModelSpec& spec, int64_t batch, uint64_t seed) {
  check_setup(name(), spec, batch);
  spec_ = spec;
  batch_ = batch;
  seed_ = seed;
  MemoryPlan plan;
  input_buffer_ = plan.add_floats("input", MemCategory::activations, batch * spec.input);
  score_buffer_ = plan.add_floats("scores", MemCategory::scratch, batch * spec.classes);
  plan_buffers(plan);
  scratchpad_ = plan.add_bytes("matmul.scratchpad", MemCategory::scratch, matmuls_.max_scratchpad_bytes());
  arena_.allocate(plan);
  Rng rng(seed);
  init_weights(rng);
  weights_replaced();
}

double Algorithm::evaluate_layer(const float* x, const int32_t* labels, int64_t n, int layer) {
  (void)x; (void)labels; (void)n;
  throw std::invalid_argument(fmt::format("{}: has no diagnostic layers (asked for layer {})", name(), layer));
}

const float* Algorithm::padded_input(const float* x, int64_t rows) {
  if (rows == batch_) return x;
  if (rows > batch_ || rows < 0)
    throw std::invalid_argument(fmt::format("{}: scores for {} rows; the model was set up for batches of {}", name(), rows, batch_));
  float* padded = arena_.floats(input_buffer_);
  std::memcpy(padded, x, static_cast<size_t>(rows * spec_.input) * sizeof(float));
  std::memset(padded + rows * spec_.input, 0, static_cast<size_t>((batch_ - rows) * spec_.input) * sizeof(float));
  return padded;
}

StepStats Algorithm::train_step(const float* x, const int32_t* labels) {
  ++weights_version_;
  phases_.start();
  return step(x, labels);
}

int Algorithm::mode_index(const std::string& mode) const {
  const auto modes = prediction_modes();
  for (size_t i = 0; i < modes.size(); ++i)
    if (modes[i] == mode) return static_cast<int>(i);
  std::string list;
  for (const auto& m : modes) list += (list.empty() ? "" : ", ") + m;
  throw std::invalid_argument(fmt::format("{}: unknown prediction mode '{}'; available: {}", name(), mode, list));
}

void Algorithm::predict(const float* x, int64_t rows, int mode, int32_t* out_labels) {
  for_each_scored_row(x, rows, mode, [&](int64_t index, const float* row) {
    out_labels[index] = static_cast<int32_t>(best_class(row, spec_.classes));
  });
}

void Algorithm::for_each_scored_row(const float* x, int64_t rows, int mode,
                                    const std::function<void(int64_t, const float*)>& visit) {
  float* scores_out = arena_.floats(score_buffer_);
  for (int64_t start = 0; start < rows; start += batch_) {
    const int64_t count = std::min(batch_, rows - start);
    scores(x + start * spec_.input, count, mode, scores_out);
    for (int64_t b = 0; b < count; ++b) visit(start + b, scores_out + b * spec_.classes);
  }
}

Evaluation Algorithm::evaluate(const float* x, const int32_t* labels, int64_t n, int mode) {
  const int64_t k = spec_.classes;
  int64_t correct = 0;
  double loss = 0.0;
  for_each_scored_row(x, n, mode, [&](int64_t index, const float* row) {
    const int64_t best = best_class(row, k);
    const double max_score = row[best];
    double sum = 0.0;
    for (int64_t c = 0; c < k; ++c) sum += std::exp(row[c] - max_score);
    loss += std::log(sum) - (row[labels[index]] - max_score);
    correct += best == labels[index];
  });
  Evaluation result;
  result.samples = n;
  result.accuracy = n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
  result.loss = n > 0 ? loss / static_cast<double>(n) : 0.0;
  return result;
}

namespace {
constexpr char kMagic[4] = {'F', 'F', 'B', 'W'};
constexpr uint32_t kWeightsVersion = 1;

void write_u32(std::ofstream& out, uint32_t v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); }
void write_u64(std::ofstream& out, uint64_t v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); }
void write_text(std::ofstream& out, const std::string& s) {
  write_u32(out, static_cast<uint32_t>(s.size()));
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

struct Reader {
  std::ifstream in;
  std::string path;
  void read(void* dst, size_t bytes) {
    in.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes));
    if (!in) throw std::runtime_error(fmt::format("{}: weights file is truncated or unreadable", path));
  }
  uint32_t u32() { uint32_t v; read(&v, sizeof v); return v; }
  uint64_t u64() { uint64_t v; read(&v, sizeof v); return v; }
  std::string text() {
    const uint32_t size = u32();
    if (size > (1u << 20)) throw std::runtime_error(fmt::format("{}: corrupt weights file (string of {} bytes)", path, size));
    std::string s(size, '\0');
    read(s.data(), size);
    return s;
  }
};

nlohmann::json spec_json(const ModelSpec& spec) {
  return {{"input", spec.input}, {"hidden", spec.hidden}, {"classes", spec.classes}};
}
}  // namespace

void Algorithm::save(const std::string& path) const {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(fmt::format("cannot write weights to {}: check the folder exists", temp));
    out.write(kMagic, 4);
    write_u32(out, kWeightsVersion);
    write_text(out, name());
    write_text(out, spec_json(spec_).dump());
    uint32_t count = 0;
    for (const auto& entry : arena_.plan().entries()) count += entry.category == MemCategory::weights;
    write_u32(out, count);
    const auto& entries = arena_.plan().entries();
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].category != MemCategory::weights) continue;
      write_text(out, entries[i].name);
      write_u64(out, static_cast<uint64_t>(entries[i].bytes / sizeof(float)));
      out.write(static_cast<const char*>(arena_.raw(BufferId{static_cast<int>(i)})), entries[i].bytes);
    }
    if (!out) throw std::runtime_error(fmt::format("writing {} failed (disk full?)", temp));
  }
  std::filesystem::rename(temp, path);
}

void Algorithm::load(const std::string& path) {
  Reader r{std::ifstream(path, std::ios::binary), path};
  if (!r.in) throw std::runtime_error(fmt::format("cannot open weights file {}", path));
  char magic[4];
  r.read(magic, 4);
  if (std::memcmp(magic, kMagic, 4) != 0) throw std::runtime_error(fmt::format("{}: not an ffbench weights file", path));
  if (const auto version = r.u32(); version != kWeightsVersion)
    throw std::runtime_error(fmt::format("{}: weights format version {}, this build reads {}", path, version, kWeightsVersion));
  if (const auto algorithm = r.text(); algorithm != name())
    throw std::runtime_error(fmt::format("{}: weights are for '{}', not '{}'", path, algorithm, name()));
  if (const auto spec = r.text(); spec != spec_json(spec_).dump())
    throw std::runtime_error(fmt::format("{}: weights are for model {}, this model is {}", path, spec,
                                         spec_json(spec_).dump()));
  const auto& entries = arena_.plan().entries();
  const uint32_t count = r.u32();
  // Read everything into a staging copy first, so a bad file leaves the model untouched.
  std::vector<std::pair<int, std::vector<float>>> staged;
  for (uint32_t n = 0; n < count; ++n) {
    const auto buffer_name = r.text();
    const auto floats = r.u64();
    int index = -1;
    for (size_t i = 0; i < entries.size(); ++i)
      if (entries[i].category == MemCategory::weights && entries[i].name == buffer_name) index = static_cast<int>(i);
    if (index < 0) throw std::runtime_error(fmt::format("{}: unknown weights buffer '{}'", path, buffer_name));
    if (floats * sizeof(float) != static_cast<uint64_t>(entries[index].bytes))
      throw std::runtime_error(fmt::format("{}: buffer '{}' has {} floats, expected {}", path, buffer_name, floats,
                                           entries[index].bytes / sizeof(float)));
    std::vector<float> data(floats);
    r.read(data.data(), floats * sizeof(float));
    staged.emplace_back(index, std::move(data));
  }
  for (auto& [index, data] : staged)
    std::memcpy(arena_.raw(BufferId{index}), data.data(), data.size() * sizeof(float));
  weights_replaced();
}

}  // namespace ffb
