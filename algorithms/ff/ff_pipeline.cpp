// Forward-Forward's pipelined schedule (ff.hpp: ForwardForward::PipelinedSchedule): every layer
// trains in every step on what the layer before produced one step earlier, the layers on separate
// threads, each with its own buffers and 1-thread products. Its stage inputs are also where the
// pipeline across ranks (ff_distributed.cpp) receives and sends.
#include "algorithms/ff/ff.hpp"

#include <algorithm>
#include <exception>
#include <numeric>

#include <fmt/format.h>

#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/parallel.hpp"

namespace ffb {

void ForwardForward::PipelinedSchedule::plan(MemoryPlan& plan) {
  const int64_t b2 = 2 * ff_.batch_, depth = static_cast<int64_t>(ff_.layers_.size());
  for (int64_t l = 0; l < depth; ++l) {
    const auto& p = ff_.layers_[l];
    const std::string name = fmt::format("layer{}.stage", l);
    // A layer's input slots: where the layer before writes (this process owns both) or where the
    // rank before's output arrives (l is this block's first layer).
    std::array<BufferId, 2> inputs{};
    if (l > 0 && l >= ff_.owned_first_ && l <= ff_.owned_last_ && l < depth) {
      inputs[0] = plan.add_floats(name + ".input.0", MemCategory::activations, b2 * p.in);
      inputs[1] = plan.add_floats(name + ".input.1", MemCategory::activations, b2 * p.in);
    }
    if (!ff_.owns(l)) {  // another rank's layer (distributed pipeline): no work here
      buffers_.push_back({});
      inputs_.push_back(inputs);
      products_.push_back({nullptr, nullptr});
      continue;
    }
    LayerBuffers buffers{};
    buffers.hidden = plan.add_floats(name + ".hidden", MemCategory::activations, b2 * p.out);
    buffers.scale = plan.add_floats(name + ".scale", MemCategory::activations, b2);
    buffers.goodness = plan.add_floats(name + ".goodness", MemCategory::activations, b2);
    buffers.goodness_grad = plan.add_floats(name + ".goodness.grad", MemCategory::activations, b2);
    buffers.input.plan(plan, name + ".input.bf16", b2 * p.in, ff_.settings_.bf16);
    buffers.grad.plan(plan, name + ".hidden.grad.bf16", b2 * p.out, ff_.settings_.bf16);
    if (ff_.settings_.peer_normalization > 0.0f) buffers.peer = plan.add_floats(name + ".peer_coefficients", MemCategory::scratch, p.out);
    buffers_.push_back(buffers);
    inputs_.push_back(inputs);
    const int instance = static_cast<int>(l) + 1;
    products_.push_back(
        {&ff_.matmul_op({.m = b2, .n = p.out, .k = p.in, .bias = true, .relu = true, .bf16 = ff_.settings_.bf16, .threads = 1, .instance = instance}),
         &ff_.matmul_op({.m = p.in, .n = p.out, .k = b2, .trans_a = true, .bf16 = ff_.settings_.bf16, .threads = 1, .instance = instance})});
  }
  const int64_t owned = ff_.owned_last_ - ff_.owned_first_;
  const int team = std::max(1, std::min(threads(), static_cast<int>(owned)));
  threads_ = team;
  std::vector<int64_t> order(static_cast<size_t>(owned));
  std::iota(order.begin(), order.end(), ff_.owned_first_);
  auto cost = [&](int64_t l) { return static_cast<double>(ff_.layers_[l].in) * static_cast<double>(ff_.layers_[l].out); };
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return cost(x) > cost(y); });
  std::vector<double> load(static_cast<size_t>(team), 0.0);
  thread_layers_.assign(static_cast<size_t>(team), {});
  for (int64_t l : order) {
    const auto t = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    thread_layers_[t].push_back(l);
    load[t] += cost(l);
  }
  for (auto& layers : thread_layers_) std::sort(layers.begin(), layers.end());
  prepare_streams(team);
}

void ForwardForward::PipelinedSchedule::plan_scratchpads(MemoryPlan& plan) {
  for (size_t l = 0; l < products_.size(); ++l)
    if (products_[l].forward != nullptr)
      buffers_[l].scratch = plan.add_bytes(fmt::format("layer{}.matmul.scratchpad", l), MemCategory::scratch,
                                           std::max(products_[l].forward->scratchpad_bytes(),
                                                    products_[l].weight_grad->scratchpad_bytes()));
}

double ForwardForward::PipelinedSchedule::pass(const float* first_input, StepStats& stats) {
  // Step s: layer 0 takes this step's batch; layer l >= 1 takes what layer l-1 wrote in step s-1
  // (slot (s-1) & 1) and writes its own output for layer l+1 into slot s & 1. Layer l starts once
  // the pipeline has reached it (step > l). Every buffer of the stage is live at once.
  const int64_t write_slot = ff_.step_ & 1, read_slot = (ff_.step_ - 1) & 1;
  for (size_t l = 0; l < buffers_.size(); ++l) {
    if (inputs_[l][0].valid()) {
      ff_.arena_.mark_live(inputs_[l][0]);
      ff_.arena_.mark_live(inputs_[l][1]);
    }
    if (!ff_.owns(static_cast<int64_t>(l))) continue;
    ff_.arena_.mark_live(buffers_[l].hidden);
    buffers_[l].input.mark_live(ff_.arena_);
    buffers_[l].grad.mark_live(ff_.arena_);
  }
  double losses[kMaxLayers] = {};
  std::exception_ptr failure;
  const int team = threads_;
  // Thread `thread` of `given` runs its stages' layers (given < team under OMP_DYNAMIC: threads take
  // more layer groups; threads past `team` have none). One stage runs on this thread. More run in a
  // region of the default team, the size every other region of the step has, so the runtime reuses
  // its one cached team: a team of `team` < threads would be a new team, allocated every step.
  const auto run_stages = [&](int thread, int given) {
    for (int t = thread; t < team; t += given) {
      StreamSlot slot(t);
      for (const int64_t l : thread_layers_[static_cast<size_t>(t)]) {
        if (ff_.step_ <= l) continue;  // the pipeline has not reached this layer yet
        try {
          const float* input = l == 0 ? first_input : ff_.arena_.floats(inputs_[l][read_slot]);
          float* next = l + 1 < ff_.depth() ? ff_.arena_.floats(inputs_[l + 1][write_slot]) : nullptr;
          losses[l] = ff_.layer_pass(l, buffers_[l], products_[l], input, next, true, stats);
        } catch (...) {
#pragma omp critical(ffb_pipeline_failure)
          if (!failure) failure = std::current_exception();
        }
      }
    }
  };
  if (team == 1)
    run_stages(0, 1);
  else
    parallel_team(run_stages);
  if (failure) std::rethrow_exception(failure);
  for (size_t l = 0; l < buffers_.size(); ++l) {
    if (!ff_.owns(static_cast<int64_t>(l))) continue;
    ff_.arena_.mark_dead(buffers_[l].hidden);
    buffers_[l].input.mark_dead(ff_.arena_);
    buffers_[l].grad.mark_dead(ff_.arena_);
  }
  double total = 0.0;
  for (int64_t l = 0; l < ff_.depth(); ++l) total += losses[l];
  return total;
}

}  // namespace ffb
