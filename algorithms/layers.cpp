// See layers.hpp.
#include "algorithms/layers.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "algorithms/backend/kernels.hpp"

namespace ffb {

void LinearParams::plan(MemoryPlan& plan, const std::string& name, int64_t in_size, int64_t out_size,
                        OptimizerKind kind) {
  in = in_size;
  out = out_size;
  const int per = optimizer_state_per_parameter(kind);
  weight = plan.add_floats(name + ".weight", MemCategory::weights, in * out);
  bias = plan.add_floats(name + ".bias", MemCategory::weights, out);
  weight_grad = plan.add_floats(name + ".weight.grad", MemCategory::grads, in * out);
  bias_grad = plan.add_floats(name + ".bias.grad", MemCategory::grads, out);
  weight_state = plan.add_floats(name + ".weight.state", MemCategory::optimizer, per * in * out);
  bias_state = plan.add_floats(name + ".bias.state", MemCategory::optimizer, per * out);
}

void LinearParams::init(Arena& arena, Rng& rng) const {
  const float bound = 1.0f / std::sqrt(static_cast<float>(in));
  float* w = arena.floats(weight);
  for (int64_t i = 0; i < in * out; ++i) w[i] = bound * (2.0f * rng.uniform() - 1.0f);
  float* b = arena.floats(bias);
  for (int64_t i = 0; i < out; ++i) b[i] = bound * (2.0f * rng.uniform() - 1.0f);
}

void LinearParams::update(Arena& arena, const OptimizerConfig& config, int64_t step) const {
  optimizer_step(config, step, {arena.floats(weight), arena.floats(weight_grad), arena.floats(weight_state), in * out},
                 {arena.floats(bias), arena.floats(bias_grad), arena.floats(bias_state), out});
}

void LinearParams::zero_grads(Arena& arena) const {
  std::memset(arena.floats(weight_grad), 0, static_cast<size_t>(in * out) * sizeof(float));
  std::memset(arena.floats(bias_grad), 0, static_cast<size_t>(out) * sizeof(float));
}

void LinearParams::plan_bf16(MemoryPlan& plan, const std::string& name) {
  weight_bf16 = plan.add_bytes(name + ".weight.bf16", MemCategory::scratch, in * out * static_cast<int64_t>(sizeof(uint16_t)));
}

void LinearParams::refresh_bf16(Arena& arena) const {
  if (weight_bf16.valid()) kern::to_bf16(static_cast<uint16_t*>(arena.raw(weight_bf16)), arena.floats(weight), in * out);
}

void MatmulOperand::plan(MemoryPlan& plan, const std::string& name, int64_t values, bool bf16) {
  capacity = values;
  copy = bf16 ? plan.add_bytes(name, MemCategory::activations, values * static_cast<int64_t>(sizeof(uint16_t))) : BufferId{};
}

const void* MatmulOperand::prepare(const Arena& arena, const float* values, int64_t count) const {
  if (!copy.valid()) return values;
  if (count > capacity) throw std::logic_error("MatmulOperand::prepare: more values than planned");
  kern::to_bf16(static_cast<uint16_t*>(arena.raw(copy)), values, count);
  return arena.raw(copy);
}

bool bf16_precision(const Options& options) { return options.choice("precision", {"f32", "bf16"}) == "bf16"; }

OptimizerConfig optimizer_from(const Options& options, const std::string& lr_option) {
  OptimizerConfig config;
  config.kind = parse_optimizer(options.choice("optimizer", {"sgd", "adam"}));
  config.lr = static_cast<float>(options.number(lr_option));
  config.momentum = static_cast<float>(options.number("momentum"));
  config.weight_decay = static_cast<float>(options.number("weight_decay"));
  return config;
}

void add_optimizer_options(std::vector<OptionInfo>& options, double default_lr, const std::string& default_optimizer) {
  options.push_back({"optimizer", default_optimizer, "sgd (with momentum) or adam"});
  options.push_back({"lr", default_lr, "learning rate", 0.0, 10.0, true});
  options.push_back({"momentum", 0.9, "SGD momentum", 0.0, 0.9999});
  options.push_back({"weight_decay", 0.0, "L2 weight decay added to the gradient", 0.0});
  options.push_back({"lr_decay_start", 0, "0: constant learning rate; s > 0: constant for s epochs, then decaying linearly to 0 "
                                          "at the end of the last epoch (the matlab code: s = epochs / 2)", 0.0});
  options.push_back({"precision", "f32", "f32, or bf16 (training matmuls take bfloat16 inputs; f32 accumulation and master weights)"});
}

double lr_decay_factor(int64_t decay_start, int64_t epoch, int64_t total_epochs) {
  if (decay_start <= 0 || total_epochs <= decay_start || epoch < decay_start) return 1.0;
  const double left = static_cast<double>(total_epochs - epoch) - 0.5;
  return std::max(0.0, left / static_cast<double>(total_epochs - decay_start));
}

}  // namespace ffb
