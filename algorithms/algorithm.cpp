// Shared parts of the algorithm interface: option checking, evaluation, the weights file, and the
// registry look-ups. The registry's list itself is in registry.cpp.
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
std::string known_names(const std::vector<OptionInfo>& known) {
  std::string names;
  for (const auto& option : known) names += (names.empty() ? "" : ", ") + option.name;
  return names;
}
}  // namespace

Options::Options(const std::string& owner, const std::vector<OptionInfo>& known, const nlohmann::json& given)
    : owner_(owner), values_(nlohmann::json::object()) {
  for (const auto& option : known) values_[option.name] = option.default_value;
  if (given.is_null()) return;
  if (!given.is_object())
    throw std::invalid_argument(fmt::format("{}: options must be a JSON object, got {}", owner, given.dump()));
  for (const auto& [name, value] : given.items()) {
    auto it = values_.find(name);
    if (it == values_.end())
      throw std::invalid_argument(
          fmt::format("{}: unknown option '{}'; known options: {}", owner, name, known_names(known)));
    const auto& expected = *it;
    const bool both_numbers = expected.is_number() && value.is_number();
    if (!both_numbers && expected.type() != value.type())
      throw std::invalid_argument(fmt::format("{}: option '{}' must be a {} (like its default {}), got {}", owner,
                                              name, expected.type_name(), expected.dump(), value.dump()));
    *it = value;
  }
  for (const auto& option : known) {
    const auto& value = values_[option.name];
    if (!value.is_number()) continue;
    const double v = value.get<double>();
    const bool too_low = option.min_exclusive ? !(v > option.min_value) : !(v >= option.min_value);
    if (too_low || !(v <= option.max_value) || !std::isfinite(v))
      throw std::invalid_argument(fmt::format("{}: option '{}' is {}; it must be {} {}{}", owner, option.name, value.dump(),
                                              option.min_exclusive ? ">" : ">=", option.min_value,
                                              std::isfinite(option.max_value) ? fmt::format(" and <= {}", option.max_value) : ""));
  }
}

const nlohmann::json& Options::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::logic_error(fmt::format("{}: option '{}' was never declared", owner_, name));
  return *it;
}

double Options::number(const std::string& name) const { return get(name).get<double>(); }
int64_t Options::integer(const std::string& name) const {
  const double value = get(name).get<double>();
  if (value != std::floor(value))
    throw std::invalid_argument(fmt::format("{}: option '{}' must be a whole number, got {}", owner_, name, value));
  return static_cast<int64_t>(value);
}
bool Options::flag(const std::string& name) const { return get(name).get<bool>(); }
std::string Options::text(const std::string& name) const { return get(name).get<std::string>(); }

std::string Options::choice(const std::string& name, const std::vector<std::string>& allowed) const {
  const auto value = text(name);
  for (const auto& a : allowed)
    if (a == value) return value;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw std::invalid_argument(fmt::format("{}: option '{}' is '{}'; allowed: {}", owner_, name, value, list));
}

void Algorithm::begin_setup(const ModelSpec& spec, int64_t batch) {
  if (spec.input <= 0 || spec.classes < 2)
    throw std::invalid_argument(fmt::format("{}: impossible model {}: need input >= 1 and classes >= 2", name(),
                                            spec.describe()));
  if (spec.hidden.size() > static_cast<size_t>(kMaxLayers))
    throw std::invalid_argument(fmt::format("{}: {} hidden layers; at most {} are supported", name(),
                                            spec.hidden.size(), kMaxLayers));
  for (auto h : spec.hidden)
    if (h <= 0)
      throw std::invalid_argument(fmt::format("{}: impossible model {}: every hidden size must be >= 1", name(),
                                              spec.describe()));
  if (batch <= 0) throw std::invalid_argument(fmt::format("{}: batch must be >= 1, got {}", name(), batch));
  spec_ = spec;
  batch_ = batch;
}

void Algorithm::finish_setup(MemoryPlan& plan) { arena_.allocate(plan); }

void PackedWeights::run(const Arena& arena, const InferenceProduct& product, const void* a, const float* w, float* c,
                        const float* bias, void* scratch, uint64_t weights_version) {
  if (product.packed == nullptr) {
    product.plain->run(a, w, c, bias, scratch);
    return;
  }
  void* packed = arena.raw(buffer);
  if (packed_for != product.packed || version != weights_version) {
    product.packed->pack_b(w, packed);
    packed_for = product.packed;
    version = weights_version;
  }
  product.packed->run(a, packed, c, bias, scratch);
}

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
  begin_setup(spec, batch);
  seed_ = seed;
  MemoryPlan plan;
  input_buffer_ = plan.add_floats("input", MemCategory::activations, batch * spec.input);
  score_buffer_ = plan.add_floats("scores", MemCategory::scratch, batch * spec.classes);
  plan_buffers(plan);
  scratchpad_ = plan.add_bytes("matmul.scratchpad", MemCategory::scratch, matmuls_.max_scratchpad_bytes());
  finish_setup(plan);
  Rng rng(seed);
  init_weights(rng);
  weights_replaced();
}

void Algorithm::plan_buffers(MemoryPlan& plan) {
  (void)plan;
  throw std::logic_error(fmt::format("{}: implements neither setup nor plan_buffers", name()));
}

void Algorithm::init_weights(Rng& rng) {
  (void)rng;
  throw std::logic_error(fmt::format("{}: implements neither setup nor init_weights", name()));
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

int64_t Algorithm::best_class(const float* row, int64_t classes) {
  int64_t best = 0;
  for (int64_t c = 1; c < classes; ++c)
    if (row[c] > row[best]) best = c;
  return best;
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

const AlgorithmInfo& find_algorithm(const std::string& name) {
  for (const auto& info : registered_algorithms())
    if (info.name == name) return info;
  std::string list;
  for (const auto& info : registered_algorithms()) list += (list.empty() ? "" : ", ") + info.name;
  throw std::invalid_argument(fmt::format("unknown algorithm '{}'; registered: {}", name, list));
}

std::unique_ptr<Algorithm> create_algorithm(const std::string& name, const nlohmann::json& options) {
  return find_algorithm(name).create(options);
}

}  // namespace ffb
