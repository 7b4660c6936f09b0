// The reproducible mini-batch Batcher (dataset.hpp).
#include "datasets/dataset.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "common/rng.hpp"
#include "datasets/seeds.hpp"

namespace ffb::data {

using detail::derive_seed;
using detail::Stream;

Batcher::Batcher(const Dataset& dataset, int64_t batch, uint64_t seed, bool shuffle,
                 bool drop_last)
    : dataset_(dataset), batch_(batch), seed_(seed), shuffle_(shuffle) {
  if (batch < 1) {
    throw DataError(fmt::format("batch size must be at least 1 (got {}) for dataset '{}'", batch,
                                dataset.name));
  }
  if (drop_last && dataset.n > 0 && batch > dataset.n) {
    throw DataError(fmt::format(
        "batch size {} exceeds the {} samples of dataset '{}', and drop_last would leave no "
        "batches; use a smaller batch or a larger dataset",
        batch, dataset.n, dataset.name));
  }
  rows_per_epoch_ = drop_last ? (dataset.n / batch) * batch : dataset.n;
  order_.resize(static_cast<size_t>(dataset.n));
  start_epoch(0);
}

int64_t Batcher::batches_per_epoch() const { return (rows_per_epoch_ + batch_ - 1) / batch_; }

void Batcher::start_epoch(int64_t epoch) {
  // The order is rebuilt from scratch, so it depends only on (seed, epoch) and not on which
  // epochs ran before.
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (shuffle_ && order_.size() > 1) {
    Rng rng(derive_seed(derive_seed(seed_, Stream::kShuffle), static_cast<uint64_t>(epoch)));
    for (size_t i = order_.size() - 1; i > 0; --i) {
      const auto j = static_cast<size_t>(rng.below(i + 1));
      std::swap(order_[i], order_[j]);
    }
  }
  cursor_ = 0;
}

int64_t Batcher::next(float* x_out, int32_t* y_out) {
  const int64_t rows = std::min(batch_, rows_per_epoch_ - cursor_);
  if (rows <= 0) return 0;
  const int64_t d = dataset_.d;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t sample = order_[static_cast<size_t>(cursor_ + r)];
    std::copy_n(dataset_.x.data() + sample * d, d, x_out + r * d);
    y_out[r] = dataset_.y[static_cast<size_t>(sample)];
  }
  cursor_ += rows;
  return rows;
}

}  // namespace ffb::data
