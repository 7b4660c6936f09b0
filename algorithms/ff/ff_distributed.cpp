// Forward-Forward over ranks (ff.hpp): which modes it supports, the pipeline's transfers at the step
// boundaries, gathering the weights, and the partition of the layers.
#include "algorithms/ff/ff.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <omp.h>

#include "algorithms/backend/engine.hpp"

namespace ffb {

std::string ForwardForward::distribution_problem(DistributedMode mode) const {
  if (mode == DistributedMode::pipeline) {
    if (!settings_.pipelined)
      return "set the option schedule=pipelined: each layer then trains on what the layer before produced one step "
             "earlier, the math a pipeline across processes runs";
    if (settings_.has_classifier)
      return "the softmax classifier reads every layer's activity in every step, and hard negatives need its verdict "
             "before layer 1 can start: set classifier=false (goodness prediction, uniform negatives)";
    return {};
  }
  if (mode == DistributedMode::data && settings_.pipelined)
    return "the pipelined schedule trains its layers on separate threads, which cannot all join the gradient "
           "allreduce; use schedule simultaneous or layerwise, or --distributed pipeline";
  return {};
}

void ForwardForward::boundary_before_step() {
  if (mode_ != DistributedMode::pipeline) return;
  const auto slot = [](int64_t step) { return static_cast<int>(step & 1); };
  // The send posted two steps ago used the slot this step's last layer writes: it must be done.
  if (owned_last_ < depth()) comm_->wait_send(slot(step_));
  if (owned_first_ == 0) return;
  // This block's first layer reads what the rank before sent in the previous step (posted then),
  // and the next step's input is received into the other slot meanwhile. The rank before sends
  // from the step its last layer first runs: step >= owned_first_.
  const int64_t l = owned_first_;
  if (step_ - 1 >= l) comm_->wait_receive(slot(step_ - 1));
  if (step_ >= l)
    comm_->begin_receive(schedule_->input(l, slot(step_)), 2 * batch_ * layers_[l].in, comm_->rank() - 1,
                         slot(step_));
}

void ForwardForward::boundary_after_step() {
  if (mode_ != DistributedMode::pipeline || owned_last_ >= depth()) return;
  const int64_t l = owned_last_;  // the next rank's first layer; ours, l - 1, ran once step_ > l - 1
  if (step_ >= l)
    comm_->begin_send(schedule_->input(l, static_cast<int>(step_ & 1)), 2 * batch_ * layers_[l].in, comm_->rank() + 1,
                      static_cast<int>(step_ & 1));
}

ForwardForward::~ForwardForward() = default;  // here, where RankBlock is complete

LayerPipeline* ForwardForward::pipeline() const { return rank_block_.get(); }

void ForwardForward::RankBlock::finish_transfers() {
  for (int slot = 0; slot < 2; ++slot) {
    ff_.comm_->wait_send(slot);
    ff_.comm_->wait_receive(slot);
  }
}

void ForwardForward::RankBlock::gather_weights() {
  const auto& bounds = ff_.layer_bounds_;
  for (int r = 0; r + 1 < static_cast<int>(bounds.size()); ++r)
    for (int64_t l = bounds[static_cast<size_t>(r)]; l < bounds[static_cast<size_t>(r) + 1]; ++l) {
      const auto& p = ff_.layers_[l];
      ff_.comm_->broadcast(ff_.arena_.floats(p.weight), p.in * p.out, r);
      ff_.comm_->broadcast(ff_.arena_.floats(p.bias), p.out, r);
    }
  ff_.weights_replaced();
}

std::vector<int64_t> ForwardForward::partition_layers(const std::vector<double>& costs, int ranks) {
  const auto n = static_cast<int64_t>(costs.size());
  if (ranks < 1 || n < ranks)
    throw std::invalid_argument(fmt::format("cannot split {} layers into {} non-empty blocks", n, ranks));
  std::vector<double> prefix(static_cast<size_t>(n) + 1, 0.0);
  for (int64_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + costs[i];
  // best[r][i]: the smallest possible largest block when the first i layers go to r ranks.
  const double none = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(static_cast<size_t>(ranks) + 1, std::vector<double>(static_cast<size_t>(n) + 1, none));
  std::vector<std::vector<int64_t>> cut(best.size(), std::vector<int64_t>(static_cast<size_t>(n) + 1, 0));
  best[0][0] = 0.0;
  for (int r = 1; r <= ranks; ++r)
    for (int64_t i = r; i <= n; ++i)
      for (int64_t j = r - 1; j < i; ++j) {
        const double largest = std::max(best[r - 1][j], prefix[i] - prefix[j]);
        if (largest < best[r][i]) best[r][i] = largest, cut[r][i] = j;
      }
  std::vector<int64_t> bounds(static_cast<size_t>(ranks) + 1, n);
  for (int r = ranks; r > 0; --r) bounds[static_cast<size_t>(r) - 1] = cut[r][bounds[static_cast<size_t>(r)]];
  return bounds;
}


}  // namespace ffb
