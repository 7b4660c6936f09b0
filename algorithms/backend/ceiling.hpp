// Honest ceilings for the harness's efficiency figures, measured on this machine in this process:
// - the GEMM ceiling of one matmul shape: the faster of oneDNN's matmul on our plain row-major
//   layout (the one the algorithms use) and on the layouts oneDNN prefers for that shape (blocked,
//   chosen with format_tag::any, inputs reordered once outside the timing); bf16 shapes are timed
//   in bf16. Each timing runs long enough to be stable; the fastest timing counts (a ceiling).
// - the machine's peak FMA rate: a register-only microkernel of independent fused multiply-adds at
//   the widest vector width the CPU has, on every thread: the physical limit, beside the ceiling.
#pragma once
#include <string>

#include "algorithms/backend/matmul.hpp"

namespace ffb {

struct GemmCeiling {
  double plain_gflops = 0.0;    // our layout (row-major, transposes as strides)
  // oneDNN's preferred layouts for A and B; 0 when not measurable, and 0 when oneDNN prefers the
  // very layouts the plain timing ran (then there is one layout, timed once: a second set of timings
  // of the same GEMM would only raise the ceiling by the host's spread and blame a layout for it).
  double blocked_gflops = 0.0;
  double gflops = 0.0;          // the larger of the two
  // The same layout's rate at its median timing: how fast the GEMM typically runs alone here. The
  // gap between this and `gflops` is the machine's own timing spread (a shared or throttling host),
  // which a step's average rate cannot beat.
  double median_gflops = 0.0;
  std::string best;             // "plain" | "blocked"
  std::string blocked_layout;   // what oneDNN chose for B, e.g. "BA16a64b" (diagnostic)
};

// Times `shape` without post-ops (accumulate, bias and ReLU are cleared) on the process's threads.
// `seconds_per_timing` of calls per timing, `timings` timings per layout; `blocked` false times the
// plain layout only (blocked_gflops stays 0 and best is "plain").
GemmCeiling measure_gemm_ceiling(const MatmulShape& shape, double seconds_per_timing = 0.02, int timings = 5,
                                 bool blocked = true);

// Whether products of `shape` (f32, fixed B) should read B packed in oneDNN's preferred layout:
// decided once per shape and process by measurement. Both layouts run the shape with its post-ops
// on the same pseudo-random data; packing is chosen only when oneDNN prefers a layout other than
// the plain one, its fastest timing beats the plain one's by at least 1 %, and its output has the
// same bits (so the choice, which depends on timings, never changes a result). The environment
// variable FFB_PACKED_WEIGHTS overrides the timing: "off" never packs, "on" packs wherever the bits
// agree, "auto" (or unset) measures; "force" packs wherever the layout differs, even when the bits
// do not agree (for tests of the packed path on any CPU).
struct PackingChoice {
  bool packed = false;
  bool layout_differs = false;  // oneDNN prefers a layout other than the plain one
  bool same_bits = false;       // the packed product gave the plain product's bits
  double plain_gflops = 0.0, packed_gflops = 0.0;  // fastest timings (0 when not timed)
  std::string reason;           // one line: why packed or not
};
const PackingChoice& packing_choice(const MatmulShape& shape);
// False when the mode is "off": then algorithms plan no packed copies at all (no memory for them).
bool packing_enabled();
// Sets the mode as FFB_PACKED_WEIGHTS would ("" returns to the environment's) and forgets every
// choice made so far; algorithms set up afterwards choose again. For tests.
void set_packing_mode(const std::string& mode);

struct PeakFma {
  double gflops = 0.0;  // all threads together
  int threads = 0;
  std::string kernel;   // "avx512" | "avx2" | "scalar"
  double checksum = 0.0;  // the chains' results (so the compiler keeps them)
};

// Peak f32 FMA rate on `threads` threads (0: the process's count), best of a few timings.
PeakFma measure_peak_fma(int threads = 0);

// The cost of rewriting what every thread has read, a property of the machine (and of its host's
// load, on a shared VM) behind elementwise work that does not speed up with threads: a weight
// update rewrites W after every thread's share of a product read all of it. A write pass over
// `floats` floats (each thread its static share, as the optimizer splits an array) is timed after
// every thread read the whole array (`shared`) and after each read only its own share (`own`); the
// fastest of `timings` each, interleaved. On one thread the two are the same pass.
struct SharedWrite {
  double own_seconds = 0.0, shared_seconds = 0.0;
  int threads = 0;
  double ratio() const { return own_seconds > 0.0 ? shared_seconds / own_seconds : 0.0; }
};
SharedWrite measure_shared_write(int64_t floats = 650000, int timings = 5);

// The memory roof beside the compute one: the machine's streaming bandwidth with an optimizer
// update's traffic (per float, 4 reads and 3 writes: w, g, m, v read, w, m, v written, as Adam moves
// them; the arithmetic is a few adds, so the pass waits on memory only). Four arrays of `floats`
// floats, each thread its static share as the optimizer splits an array; the fastest of `timings`
// passes after one untimed pass. `floats` 0 sizes the four arrays together at 8x the last-level
// cache (64 MiB at least), so no pass is served from cache.
struct MemoryBandwidth {
  double gbps = 0.0;           // bytes moved per pass over the fastest pass, 1e9 bytes per second
  int64_t bytes_per_pass = 0;  // 28 per float
  int64_t floats = 0;          // per array
  int64_t last_level_cache_bytes = 0;  // what the OS reports (0: unknown)
  int threads = 0;
};
MemoryBandwidth measure_memory_bandwidth(int64_t floats = 0, int timings = 5);

}  // namespace ffb
