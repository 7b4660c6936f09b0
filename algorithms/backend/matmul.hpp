// Matrix multiplication on oneDNN: C (M x N) = op(A) (M x K) * op(B) (K x N) [+ bias] [+ C] [ReLU].
// Transposes are expressed through strides (no copies). A primitive is created once per shape and
// options (the MatmulCache), then executed many times with new data pointers; the scratchpad is
// user-managed so its bytes are counted in the arena.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "algorithms/backend/tensor.hpp"

namespace ffb {

struct MatmulShape {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false;     // A is stored K x M (row-major), used as its transpose
  bool trans_b = false;     // B is stored N x K (row-major), used as its transpose
  bool accumulate = false;  // C += op(A) op(B) instead of C = ...
  bool bias = false;        // add a bias row vector of N floats
  bool relu = false;        // apply ReLU last
  bool bf16 = false;        // A and B hold bfloat16 (uint16_t) values; C, bias and accumulation stay f32
  // B is held in the layout oneDNN prefers for this shape (format "any", usually blocked), made
  // from the plain B by Matmul::pack_b: for weights that stay fixed over many products (inference).
  bool packed_b = false;
  int64_t lda = 0, ldb = 0, ldc = 0;  // row strides; 0 means "packed" (the stored row length)
  // Threads the primitive is created for: 0 = the process's count at creation. A primitive run
  // inside a parallel region (the pipelined FF schedule) runs on its calling thread alone, so it is
  // created for 1 thread; `instance` keeps such primitives apart when two callers share a shape
  // (a primitive's memory objects must not be shared by threads running at the same time).
  int threads = 0;
  int instance = 0;

  MatmulShape normalized() const;
  std::string describe() const;
  auto key() const {
    return std::tie(m, n, k, trans_a, trans_b, accumulate, bias, relu, bf16, packed_b, lda, ldb, ldc, threads, instance);
  }
  bool operator<(const MatmulShape& other) const { return key() < other.key(); }
  double flops() const { return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k); }
};

// One oneDNN matmul primitive. Not copyable; lives in a MatmulCache.
class Matmul {
 public:
  explicit Matmul(const MatmulShape& shape);
  ~Matmul();
  Matmul(const Matmul&) = delete;
  Matmul& operator=(const Matmul&) = delete;

  const MatmulShape& shape() const { return shape_; }
  int64_t scratchpad_bytes() const;
  // How many times run() was called: the harness uses it to learn which shapes a step executes.
  int64_t runs() const { return runs_; }
  // Wall seconds spent inside run() so far (the calling thread's clock; two clock reads per call):
  // with the FLOPs, it tells how fast the GEMMs ran inside a step, against the same shapes alone.
  double seconds() const { return seconds_; }
  const char* implementation() const;
  // packed_b shapes: the bytes of B in the packed layout (0 for other shapes), whether that layout
  // differs from the plain one, and the conversion of a plain B (as the unpacked shape reads it:
  // row stride ldb, transposed when trans_b) into it. pack_b allocates nothing of ours.
  int64_t packed_b_bytes() const;
  bool packed_layout_differs() const;
  void pack_b(const void* plain_b, void* packed) const;

  // C = op(A) op(B) (+ bias) (+ C) (ReLU). `scratchpad` must hold scratchpad_bytes() bytes
  // (nullptr allowed when that is 0). Allocates nothing of ours.
  // a and b are float, or bfloat16 (uint16_t) when shape().bf16.
  void run(const void* a, const void* b, float* c, const float* bias, void* scratchpad) const;

 private:
  struct Impl;
  MatmulShape shape_;
  std::unique_ptr<Impl> impl_;
  mutable int64_t runs_ = 0;
  mutable double seconds_ = 0.0;
};

// Primitives keyed by shape and options, created on first request and reused; an algorithm asks for
// all of its shapes while planning, so no primitive is created inside a training step.
class MatmulCache {
 public:
  const Matmul& get(const MatmulShape& shape);
  int64_t max_scratchpad_bytes() const { return max_scratchpad_; }
  int64_t primitives_created() const { return static_cast<int64_t>(cache_.size()); }
  // Every primitive with its run count.
  std::vector<std::pair<MatmulShape, int64_t>> run_counts() const;
  // Each primitive's seconds() and runs(), in run_counts()'s order (a schedule that runs matmuls on
  // several threads at once counts each thread's time).
  std::vector<std::pair<double, int64_t>> run_seconds_each() const;

 private:
  std::map<MatmulShape, std::unique_ptr<Matmul>> cache_;
  int64_t max_scratchpad_ = 0;
};

// Convenience for tests and one-off use: a private scratchpad, primitive from a process-wide cache.
void matmul(const MatmulShape& shape, const void* a, const void* b, float* c, const float* bias = nullptr);

// oneDNN facts for manifests.
std::string onednn_version();
std::string onednn_isa();  // the ISA oneDNN dispatches to (e.g. "avx512_core_amx")

// FLOPs (2*M*N*K) of every Matmul::run so far in this process: lets tests check an algorithm's
// analytic FLOP count against what it actually executed.
uint64_t matmul_flops_executed();

}  // namespace ffb
