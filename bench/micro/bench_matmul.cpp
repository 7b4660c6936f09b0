// Matmul GFLOP/s: oneDNN (the backend) beside Eigen and the plain-loop reference, on the shapes the
// algorithms use (B x D x H). Part of bench_micro (main.cpp).
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <dnnl.hpp>
#include <omp.h>
#include <algorithm>
#include <chrono>
#include <vector>

#include "algorithms/backend/engine.hpp"
#include "bench/micro/common.hpp"
#include "algorithms/backend/matmul.hpp"
#include "algorithms/backend/reference.hpp"
#include "common/rng.hpp"

namespace {

using ffb::micro::Floats;
using ffb::micro::random_floats;
using ffb::micro::set_counters;

ffb::MatmulShape shape_from(const benchmark::State& state) {
  ffb::MatmulShape s;
  s.m = state.range(0);
  s.k = state.range(1);
  s.n = state.range(2);
  return s;
}

void BM_matmul_onednn(benchmark::State& state) {
  const auto s = shape_from(state);
  auto a = random_floats(s.m * s.k, 1), b = random_floats(s.k * s.n, 2);
  Floats c(static_cast<size_t>(s.m * s.n));
  ffb::MatmulCache cache;
  const auto& op = cache.get(s);
  ffb::micro::Bytes scratch(static_cast<size_t>(op.scratchpad_bytes()) + 64);
  for (auto _ : state) {
    op.run(a.data(), b.data(), c.data(), nullptr, scratch.data());
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s.flops());
  state.SetLabel(op.implementation());
}

// The same product in the company it keeps inside a training step. context 0: alone, the same
// buffers every call (how the ceiling is timed); 1: with the forward's bias + ReLU post-ops;
// 2: an OpenMP pass over 8 MiB between products (the step's elementwise kernels evict the operands);
// 3: the input A taken in turn from 8 buffers (a new batch each call); 4: the ceiling's constant
// operands; 5: the weights B taken in turn from 8 buffers (layer after layer). Tells how much of a step's
// GEMM shortfall against the ceiling is its neighbours' doing rather than the GEMM's.
void BM_matmul_in_context(benchmark::State& state) {
  auto s = shape_from(state);
  const int64_t context = state.range(3);
  if (context == 1) s.bias = s.relu = true;
  constexpr int inputs = 8;
  std::vector<Floats> a;
  for (int i = 0; i < (context == 3 ? inputs : 1); ++i) a.push_back(random_floats(s.m * s.k, 1 + static_cast<uint64_t>(i)));
  std::vector<Floats> weights;
  for (int i = 0; i < (context == 5 ? inputs : 1); ++i) weights.push_back(random_floats(s.k * s.n, 20 + static_cast<uint64_t>(i)));
  auto& b = weights[0];
  auto bias = random_floats(s.n, 3);
  if (context == 4) {  // the ceiling's constant operands
    std::fill(a[0].begin(), a[0].end(), 0.5f);
    std::fill(b.begin(), b.end(), 0.5f);
  }
  Floats c(static_cast<size_t>(s.m * s.n)), sweep(size_t{2} << 20, 1.0f);
  ffb::MatmulCache cache;
  const auto& op = cache.get(s);
  ffb::micro::Bytes scratch(static_cast<size_t>(op.scratchpad_bytes()) + 64);
  int64_t call = 0;
  double gemm_seconds = 0.0;
  for (auto _ : state) {
    if (context == 2) {
      const int64_t n = static_cast<int64_t>(sweep.size());
      float* p = sweep.data();
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] * 0.5f + 0.5f;
    }
    const auto start = std::chrono::steady_clock::now();
    const auto pick = static_cast<size_t>(call++);
    op.run(a[pick % a.size()].data(), weights[pick % weights.size()].data(), c.data(), bias.data(), scratch.data());
    gemm_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GEMM_GFLOP/s"] = benchmark::Counter(s.flops() * static_cast<double>(state.iterations()) / gemm_seconds * 1e-9);
}

// The same product with B (the weights) in the layout oneDNN prefers for this shape (format "any",
// usually a blocked one): what keeping weights blocked would give. Arg 3 = 1 adds the reorder of B
// from row-major before every product, which is what training pays when the optimizer updates the
// row-major weights each step; "reorder_ms" is the reorder's time per product. Arg 3 = 2: eight
// blocked weight sets taken in turn (compare BM_matmul_in_context's context 5, the same with row-major).
void BM_matmul_onednn_blocked_weights(benchmark::State& state) {
  const auto s = shape_from(state);
  const bool reorder_each_time = state.range(3) == 1;
  const int rotation = state.range(3) == 2 ? 8 : 1;  // 2: eight blocked weight sets in turn (layer after layer)
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  auto& engine = ffb::cpu_engine();
  ffb::prepare_streams(1);
  auto& stream = ffb::cpu_stream();
  const dnnl::memory::desc a_md({s.m, s.k}, dt::f32, tag::ab), c_md({s.m, s.n}, dt::f32, tag::ab);
  const dnnl::memory::desc b_plain_md({s.k, s.n}, dt::f32, tag::ab), b_any_md({s.k, s.n}, dt::f32, tag::any);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any_md, c_md), engine);
  const dnnl::matmul matmul(pd);
  auto a_data = random_floats(s.m * s.k, 1), b_data = random_floats(s.k * s.n, 2);
  dnnl::memory a(a_md, engine, a_data.data()), b_plain(b_plain_md, engine, b_data.data());
  dnnl::memory b_blocked(pd.weights_desc(), engine), c(c_md, engine);
  const dnnl::reorder to_blocked(b_plain, b_blocked);
  to_blocked.execute(stream, b_plain, b_blocked);
  std::vector<dnnl::memory> rotated;
  for (int i = 0; i < rotation; ++i) {
    rotated.emplace_back(pd.weights_desc(), engine);
    to_blocked.execute(stream, b_plain, rotated.back());
  }
  stream.wait();
  size_t call = 0;
  double reorder_seconds = 0.0;
  for (auto _ : state) {
    if (reorder_each_time) {
      const auto start = std::chrono::steady_clock::now();
      to_blocked.execute(stream, b_plain, b_blocked);
      stream.wait();
      reorder_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    matmul.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, rotation > 1 ? rotated[call++ % rotated.size()] : b_blocked},
                            {DNNL_ARG_DST, c}});
    stream.wait();
  }
  set_counters(state, s.flops());
  if (reorder_each_time)
    state.counters["reorder_ms"] = benchmark::Counter(reorder_seconds * 1e3, benchmark::Counter::kAvgIterations);
  state.SetLabel(std::string(pd.impl_info_str()) + (pd.weights_desc() == b_plain_md ? " (B stays row-major)" : " (B blocked)"));
}

void BM_matmul_eigen(benchmark::State& state) {
  const auto s = shape_from(state);
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  RowMajor a = Eigen::Map<RowMajor>(random_floats(s.m * s.k, 1).data(), s.m, s.k);
  RowMajor b = Eigen::Map<RowMajor>(random_floats(s.k * s.n, 2).data(), s.k, s.n);
  RowMajor c(s.m, s.n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s.flops());
}

void BM_matmul_reference(benchmark::State& state) {
  const auto s = shape_from(state);
  auto a = random_floats(s.m * s.k, 1), b = random_floats(s.k * s.n, 2);
  Floats c(static_cast<size_t>(s.m * s.n));
  for (auto _ : state) {
    ffb::ref::matmul(s, a.data(), b.data(), c.data());
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s.flops());
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "D", "H"});
  b->Args({256, 784, 2000})->Args({256, 2000, 2000})->Args({1024, 2000, 2000})->Args({128, 784, 500})->Args({128, 500, 500});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_matmul_onednn)->Apply(shapes);
BENCHMARK(BM_matmul_onednn_blocked_weights)->Apply([](benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "D", "H", "reorder"});
  b->Args({256, 784, 500, 0})->Args({256, 784, 500, 2})->Args({256, 1000, 1000, 0})->Args({256, 1000, 1000, 2});
  for (int reorder = 0; reorder < 2; ++reorder)
    b->Args({256, 784, 2000, reorder})->Args({256, 2000, 2000, reorder})->Args({1024, 2000, 2000, reorder})
        ->Args({128, 784, 500, reorder})->Args({128, 500, 500, reorder});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
});
BENCHMARK(BM_matmul_in_context)->Apply([](benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "D", "H", "context"});
  for (int context = 0; context < 6; ++context) b->Args({256, 784, 500, context})->Args({256, 1000, 1000, context});
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
});
BENCHMARK(BM_matmul_eigen)->Apply(shapes);
BENCHMARK(BM_matmul_reference)->Apply(shapes)->Iterations(1);

// bp's products in other forms and partitions than the step's (issue 16: what bounds bp on 2 threads).
namespace {

// A (rows x cols, row-major) -> T (cols x rows), in 32 x 32 tiles shared out over the threads.
void transpose_tiles(const float* a, float* t, int64_t rows, int64_t cols) {
  constexpr int64_t tile = 32;
  const int64_t row_tiles = (rows + tile - 1) / tile, col_tiles = (cols + tile - 1) / tile;
#pragma omp parallel for schedule(static)
  for (int64_t id = 0; id < row_tiles * col_tiles; ++id) {
    const int64_t r0 = id / col_tiles * tile, c0 = id % col_tiles * tile;
    const int64_t r1 = std::min(rows, r0 + tile), c1 = std::min(cols, c0 + tile);
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t r = r0; r < r1; ++r) t[c * rows + r] = a[r * cols + c];
  }
}

// bp's two backward products at (in, out, B), in the form the step runs and in the alternatives a
// step could run: form 0, weight gradient X^T dY with X read transposed (the step's); 1, X copied to
// X^T first (the copy timed with the product); 2, the plain product on a ready X^T (the bound of 1);
// 3, input gradient dY W^T with W read transposed (the step's); 4, the plain product on a ready W^T;
// 5, W copied to W^T first (what keeping a transposed copy of the weights costs after each update).
void BM_backward_forms(benchmark::State& state) {
  const int64_t in = state.range(0), out = state.range(1), b = state.range(2), form = state.range(3);
  ffb::MatmulShape s;
  if (form <= 2) s = {.m = in, .n = out, .k = b, .trans_a = form == 0};
  else s = {.m = b, .n = in, .k = out, .trans_b = form == 3};
  auto x = random_floats(b * in, 1), dy = random_floats(b * out, 2), w = random_floats(in * out, 3);
  Floats xt(static_cast<size_t>(b * in)), wt(static_cast<size_t>(in * out)), c(static_cast<size_t>(s.m * s.n));
  transpose_tiles(x.data(), xt.data(), b, in);
  transpose_tiles(w.data(), wt.data(), in, out);
  ffb::MatmulCache cache;
  const auto& op = cache.get(s);
  ffb::micro::Bytes scratch(static_cast<size_t>(op.scratchpad_bytes()) + 64);
  for (auto _ : state) {
    switch (form) {
      case 0: op.run(x.data(), dy.data(), c.data(), nullptr, scratch.data()); break;
      case 1: transpose_tiles(x.data(), xt.data(), b, in); [[fallthrough]];
      case 2: op.run(xt.data(), dy.data(), c.data(), nullptr, scratch.data()); break;
      case 3: op.run(dy.data(), w.data(), c.data(), nullptr, scratch.data()); break;
      case 5: transpose_tiles(w.data(), wt.data(), in, out); [[fallthrough]];
      default: op.run(dy.data(), wt.data(), c.data(), nullptr, scratch.data()); break;
    }
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s.flops());
  state.SetLabel(op.implementation());
}

// One product shared out by hand: each of two threads runs a 1-thread primitive on its half of M
// (split 0) or N (split 1), against oneDNN's own 2-thread partition (split 2). product 0: forward
// X W (B x out x in); 1: weight gradient X^T dY; 2: input gradient dY W^T.
void BM_split_product(benchmark::State& state) {
  if (ffb::threads() < 2) {
    state.SkipWithError("needs 2 threads (OMP_NUM_THREADS=2)");
    return;
  }
  const int64_t in = state.range(0), out = state.range(1), b = state.range(2), product = state.range(3), split = state.range(4);
  ffb::MatmulShape s;
  if (product == 0) s = {.m = b, .n = out, .k = in};
  else if (product == 1) s = {.m = in, .n = out, .k = b, .trans_a = true};
  else s = {.m = b, .n = in, .k = out, .trans_b = true};
  auto a = random_floats(s.m * s.k, 1), bm = random_floats(s.k * s.n, 2);
  Floats c(static_cast<size_t>(s.m * s.n));
  ffb::MatmulCache cache;
  const ffb::Matmul* ops[2] = {nullptr, nullptr};
  int64_t a_off[2] = {0, 0}, b_off[2] = {0, 0}, c_off[2] = {0, 0};
  if (split == 2) {
    ops[0] = &cache.get(s);
  } else {
    for (int t = 0; t < 2; ++t) {
      ffb::MatmulShape h = s;
      h.threads = 1;
      h.instance = t;
      h.lda = s.trans_a ? s.m : s.k;
      h.ldb = s.trans_b ? s.k : s.n;
      h.ldc = s.n;
      if (split == 0) {
        const int64_t m0 = s.m / 2 * t;
        h.m = t == 0 ? s.m / 2 : s.m - s.m / 2;
        a_off[t] = s.trans_a ? m0 : m0 * s.k;
        c_off[t] = m0 * s.n;
      } else {
        const int64_t n0 = s.n / 2 * t;
        h.n = t == 0 ? s.n / 2 : s.n - s.n / 2;
        b_off[t] = s.trans_b ? n0 * s.k : n0;
        c_off[t] = n0;
      }
      ops[t] = &cache.get(h);
    }
  }
  ffb::micro::Bytes scratch[2] = {ffb::micro::Bytes(static_cast<size_t>(ops[0]->scratchpad_bytes()) + 64),
                                  ffb::micro::Bytes(static_cast<size_t>(ops[1] ? ops[1]->scratchpad_bytes() : 0) + 64)};
  for (auto _ : state) {
    if (split == 2) {
      ops[0]->run(a.data(), bm.data(), c.data(), nullptr, scratch[0].data());
    } else {
#pragma omp parallel num_threads(2)
      {
        const int t = omp_get_thread_num();
        ops[t]->run(a.data() + a_off[t], bm.data() + b_off[t], c.data() + c_off[t], nullptr, scratch[t].data());
      }
    }
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s.flops());
}

// A layer's two backward products (weight gradient X^T dY, input gradient dY W^T) at (in, out, B):
// mode 0, one after the other, each on oneDNN's 2-thread partition (the step's way); mode 1, at the
// same time, each on one thread with a 1-thread primitive.
void BM_backward_pair(benchmark::State& state) {
  if (ffb::threads() < 2) {  // mode 1 needs two threads; a 1-thread run has nothing to compare
    state.SkipWithError("needs 2 threads (OMP_NUM_THREADS=2)");
    return;
  }
  const int64_t in = state.range(0), out = state.range(1), b = state.range(2), mode = state.range(3);
  ffb::MatmulShape dw{.m = in, .n = out, .k = b, .trans_a = true}, dx{.m = b, .n = in, .k = out, .trans_b = true};
  if (mode == 1) dw.threads = dx.threads = 1;
  auto x = random_floats(b * in, 1), dy = random_floats(b * out, 2), w = random_floats(in * out, 3);
  Floats gw(static_cast<size_t>(in * out)), gx(static_cast<size_t>(b * in));
  ffb::MatmulCache cache;
  const auto& op_w = cache.get(dw);
  const auto& op_x = cache.get(dx);
  ffb::micro::Bytes scratch_w(static_cast<size_t>(op_w.scratchpad_bytes()) + 64), scratch_x(static_cast<size_t>(op_x.scratchpad_bytes()) + 64);
  for (auto _ : state) {
    if (mode == 0) {
      op_w.run(x.data(), dy.data(), gw.data(), nullptr, scratch_w.data());
      op_x.run(dy.data(), w.data(), gx.data(), nullptr, scratch_x.data());
    } else {
#pragma omp parallel num_threads(2)
      {
        if (omp_get_thread_num() == 0) op_w.run(x.data(), dy.data(), gw.data(), nullptr, scratch_w.data());
        else op_x.run(dy.data(), w.data(), gx.data(), nullptr, scratch_x.data());
      }
    }
    benchmark::DoNotOptimize(gw.data());
    benchmark::DoNotOptimize(gx.data());
  }
  set_counters(state, dw.flops() + dx.flops());
}

}  // namespace

BENCHMARK(BM_backward_pair)->Apply([](benchmark::internal::Benchmark* b) {
  b->ArgNames({"in", "out", "B", "mode"});
  for (int mode = 0; mode < 2; ++mode) b->Args({500, 500, 256, mode})->Args({1000, 1000, 256, mode})->Args({2000, 2000, 256, mode})->Args({256, 256, 256, mode});
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
});
BENCHMARK(BM_split_product)->Apply([](benchmark::internal::Benchmark* b) {
  b->ArgNames({"in", "out", "B", "product", "split"});
  for (int product = 0; product < 3; ++product)
    for (int split = 0; split < 3; ++split) b->Args({500, 500, 256, product, split})->Args({1000, 1000, 256, product, split});
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
});
BENCHMARK(BM_backward_forms)->Apply([](benchmark::internal::Benchmark* b) {
  b->ArgNames({"in", "out", "B", "form"});
  for (int form = 0; form < 6; ++form)
    b->Args({784, 500, 256, form})->Args({500, 500, 256, form})->Args({1000, 1000, 256, form})->Args({2000, 2000, 256, form});
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
});
