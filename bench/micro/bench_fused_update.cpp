// The weight-gradient product and Adam's update of one layer: as a bp step runs them (the whole
// dW = X^T dY, then Adam over every weight) against the update fused into the product by row blocks
// (each block of dW made into a small buffer and applied while it is in cache, so the gradient
// never goes to memory). Arguments: width (the layer is width x width, B 256), variant (0 whole, 1
// row blocks with the whole team on each block, 2 each thread its own row blocks with a one-thread
// product and no barrier; 3 and 4: variant 0's product alone and its update alone), rows per block.
// Same FLOPs and the same update per weight in 0-2 (the optimizer's own optimizer_step, Adam with
// weight decay 1e-4, as bp runs it). Run with --benchmark_enable_random_interleaving:
// this VM's speed drifts by more than the differences between the variants.
#include <chrono>
#include <memory>
#include <vector>

#include "algorithms/backend/kernels.hpp"
#include "algorithms/backend/matmul.hpp"
#include "algorithms/backend/optimizer.hpp"
#include "algorithms/backend/parallel.hpp"
#include "bench/micro/common.hpp"

namespace {
constexpr int64_t kB = 256;

void BM_weight_grad_update(benchmark::State& state) {
  const int64_t width = state.range(0), variant = state.range(1), rows = state.range(2);
  const int64_t in = width, out = width, n = in * out;
  const int team = ffb::threads();
  auto x = ffb::micro::random_floats(kB * in, 1), dy = ffb::micro::random_floats(kB * out, 2);
  auto w = ffb::micro::random_floats(n, 3);
  // Adam's state as optimizer_step takes it ([m; v] of the array it updates): one [m; v] for the whole
  // layer (variants 0, 3, 4), or one per row block of `rows` x width (1, 2). The same bytes either way.
  ffb::micro::Floats moments(static_cast<size_t>(2 * n), 0.0f);
  ffb::micro::Floats g(static_cast<size_t>(variant == 0 || variant >= 3 ? n : static_cast<int64_t>(team) * rows * out));
  ffb::MatmulShape whole{.m = in, .n = out, .k = kB, .trans_a = true};
  ffb::MatmulShape block{.m = rows, .n = out, .k = kB, .trans_a = true, .lda = in};
  std::vector<std::unique_ptr<ffb::Matmul>> products;
  if (variant == 0 || variant >= 3) products.push_back(std::make_unique<ffb::Matmul>(whole));
  if (variant == 1) products.push_back(std::make_unique<ffb::Matmul>(block));
  if (variant == 2) {
    ffb::prepare_streams(team);
    for (int t = 0; t < team; ++t) {
      auto shape = block;
      shape.threads = 1;
      shape.instance = t;
      products.push_back(std::make_unique<ffb::Matmul>(shape));
    }
  }
  int64_t scratch_bytes = 0;
  for (const auto& p : products) scratch_bytes = std::max(scratch_bytes, p->scratchpad_bytes());
  ffb::micro::Bytes scratch(static_cast<size_t>(std::max<int64_t>(64, scratch_bytes * team)));
  ffb::OptimizerConfig adam;  // bp's update: Adam with weight decay
  adam.weight_decay = 1e-4f;
  int64_t step = 0;
  const int64_t blocks = in / rows;  // widths are multiples of the block rows here
  for (auto _ : state) {
    ++step;
    if (variant == 0 || variant >= 3) {
      if (variant != 4) products[0]->run(x.data(), dy.data(), g.data(), nullptr, scratch.data());
      if (variant != 3) ffb::optimizer_step(adam, step, w.data(), g.data(), moments.data(), n);
    } else if (variant == 1) {
      for (int64_t blk = 0; blk < blocks; ++blk) {
        const int64_t r0 = blk * rows, first = r0 * out, count = rows * out;
        products[0]->run(x.data() + r0, dy.data(), g.data(), nullptr, scratch.data());
        ffb::optimizer_step(adam, step, w.data() + first, g.data(), moments.data() + 2 * first, count);
      }
    } else {
      ffb::parallel_team([&](int thread, int given) {
        ffb::StreamSlot slot(thread);
        float* mine = g.data() + static_cast<int64_t>(thread) * rows * out;
        char* own_scratch = scratch.data() + thread * scratch_bytes;
        const auto share = ffb::static_share(blocks, thread, given);
        for (int64_t blk = share.begin; blk < share.end; ++blk) {
          const int64_t r0 = blk * rows, first = r0 * out;
          products[static_cast<size_t>(thread)]->run(x.data() + r0, dy.data(), mine, nullptr, own_scratch);
          // Inside the team's region: optimizer_step runs on this thread alone (parallel.hpp).
          ffb::optimizer_step(adam, step, w.data() + first, mine, moments.data() + 2 * first, rows * out);
        }
      });
    }
    benchmark::DoNotOptimize(w.data());
  }
  ffb::micro::set_counters(state, 2.0 * static_cast<double>(in * out * kB));
}
}  // namespace

BENCHMARK(BM_weight_grad_update)
    ->ArgNames({"width", "variant", "rows"})
    ->ArgsProduct({{500, 1000, 2000}, {0, 1, 2}, {50}})
    ->ArgsProduct({{500, 2000}, {3, 4}, {50}})
    ->Args({1000, 1, 100})
    ->Args({1000, 2, 100})
    ->Args({2000, 1, 100})
    ->Args({2000, 2, 100})
    ->Args({2000, 1, 25})
    ->Args({2000, 2, 25})
    ->UseRealTime();

namespace {
// bp's ReLU backward and bias gradient (kern::relu_backward_bias_grad, in place on dx) on a B 256 x
// width activation, timed alone (manual time: the kernel only). context 0: the same warm buffers
// every call; 1: right after the product that writes dx in the step (dz W^T, 256 x width x width,
// W read transposed), with the forward's activation taken in turn from 8 buffers (cold, as in a
// step, where it was written by the forward pass long before). Tells how much of the kernel's time
// in a step is its neighbours' doing.
void BM_relu_bias_in_context(benchmark::State& state) {
  const int64_t width = state.range(0), context = state.range(1);
  constexpr int kActivations = 8;
  auto dz = ffb::micro::random_floats(kB * width, 1), w = ffb::micro::random_floats(width * width, 2);
  std::vector<ffb::micro::Floats> y;
  for (int i = 0; i < (context == 1 ? kActivations : 1); ++i) y.push_back(ffb::micro::random_floats(kB * width, 10 + i));
  ffb::micro::Floats dx = ffb::micro::random_floats(kB * width, 3), dbias(static_cast<size_t>(width));
  ffb::Matmul product({.m = kB, .n = width, .k = width, .trans_b = true});
  ffb::micro::Bytes scratch(static_cast<size_t>(product.scratchpad_bytes()) + 64);
  int64_t call = 0;
  for (auto _ : state) {
    if (context == 1) product.run(dz.data(), w.data(), dx.data(), nullptr, scratch.data());
    const auto& act = y[static_cast<size_t>(call++) % y.size()];
    const ffb::Mat grad(dx.data(), kB, width);
    const auto start = std::chrono::steady_clock::now();
    ffb::kern::relu_backward_bias_grad(grad, dbias.data(), grad, ffb::Mat(const_cast<float*>(act.data()), kB, width));
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    benchmark::DoNotOptimize(dbias.data());
  }
  state.SetItemsProcessed(state.iterations() * kB * width);
}
}  // namespace

BENCHMARK(BM_relu_bias_in_context)->ArgNames({"width", "context"})->ArgsProduct({{500, 1000, 2000}, {0, 1}})->UseManualTime();
