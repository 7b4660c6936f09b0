// See ceiling.hpp. The plain layout is timed through our own Matmul (the code path the algorithms
// run); the blocked layouts through a primitive made here with format_tag::any.
#include "algorithms/backend/ceiling.hpp"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

#include <dnnl.hpp>
#include <fmt/format.h>
#include <omp.h>

#include "algorithms/backend/arena.hpp"
#include "algorithms/backend/engine.hpp"

namespace ffb {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct CallTimes {
  double fastest = 0.0, median = 0.0;  // per call, over the timings
};

// Fastest and median per-call time of `call` over `timings` timings of about `seconds_per_timing` each.
CallTimes call_seconds(const std::function<void()>& call, double seconds_per_timing, int timings) {
  call();  // warm-up: caches, page faults, JIT
  const auto probe = Clock::now();
  call();
  const double once = std::max(since(probe), 1e-7);
  const int calls = std::max(1, static_cast<int>(seconds_per_timing / once));
  std::vector<double> each;
  for (int t = 0; t < timings; ++t) {
    const auto start = Clock::now();
    for (int i = 0; i < calls; ++i) call();
    each.push_back(since(start) / calls);
  }
  std::sort(each.begin(), each.end());
  const size_t n = each.size();
  return {each.front(), n % 2 ? each[n / 2] : 0.5 * (each[n / 2 - 1] + each[n / 2])};
}

// Fills a buffer with a harmless value (0.5 in f32 or bf16): the values do not change the work.
void fill_half(void* data, size_t bytes, bool bf16) {
  if (bf16) {
    auto* p = static_cast<uint16_t*>(data);
    std::fill(p, p + bytes / 2, static_cast<uint16_t>(0x3f00));
  } else {
    auto* p = static_cast<float*>(data);
    std::fill(p, p + bytes / 4, 0.5f);
  }
}

CallTimes plain_seconds(const MatmulShape& s, double seconds_per_timing, int timings) {
  MatmulCache cache;
  const auto& op = cache.get(s);
  const size_t element = s.bf16 ? 2 : 4;
  // Aligned as the arena aligns the step's operands (oneDNN aligns the blocked timing's own memory).
  // Where the operands lie in memory moves this GEMM by up to 15 % on some machines (Zen 1, gemm:jit:
  // one set of buffers ran 256x1000x1000 at 33 GFLOP/s in every timing, the step's arena at 37), and
  // a freed buffer comes back at the same place, so every timing of one set repeats its luck. The
  // timings therefore go round up to 3 sets of operands held at once (different pages), and the
  // fastest counts, as for any ceiling.
  struct Operands {
    AlignedBuffer a, b, c, scratch;
  };
  std::vector<std::unique_ptr<Operands>> sets;
  for (int i = 0; i < std::clamp(timings, 1, 3); ++i) {
    sets.push_back(std::make_unique<Operands>(Operands{AlignedBuffer((s.trans_a ? s.k : s.m) * s.lda * element),
                                                       AlignedBuffer((s.trans_b ? s.n : s.k) * s.ldb * element),
                                                       AlignedBuffer(s.m * s.ldc * 4), AlignedBuffer(op.scratchpad_bytes())}));
    fill_half(sets.back()->a.bytes(), static_cast<size_t>(sets.back()->a.size()), s.bf16);
    fill_half(sets.back()->b.bytes(), static_cast<size_t>(sets.back()->b.size()), s.bf16);
  }
  CallTimes times{1e300, 0.0};
  std::vector<double> medians;
  for (size_t i = 0; i < sets.size(); ++i) {
    const Operands& o = *sets[i];
    const int count = static_cast<int>(sets.size()), share = std::max(1, timings / count + (static_cast<int>(i) < timings % count ? 1 : 0));
    const CallTimes t = call_seconds([&] { op.run(o.a.bytes(), o.b.bytes(), o.c.floats(), nullptr, o.scratch.bytes()); },
                                     seconds_per_timing, share);
    times.fastest = std::min(times.fastest, t.fastest);
    medians.push_back(t.median);
  }
  std::sort(medians.begin(), medians.end());
  times.median = medians[medians.size() / 2];  // the middle set's median: the typical placement's typical timing
  return times;
}

// The preferred layouts' timing, or nullopt when oneDNN prefers exactly the layouts the plain
// timing already ran (A and B as the shape stores them): then there is one layout, and timing it a
// second time would only make the ceiling the fastest of twice as many timings of the same GEMM
// (on a noisy host a few per cent above the fastest of `timings`) and call that gap a layout's.
std::optional<CallTimes> blocked_seconds(const MatmulShape& s, double seconds_per_timing, int timings, std::string& layout) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  using dims = dnnl::memory::dims;
  const auto input_type = s.bf16 ? dt::bf16 : dt::f32;
  const dnnl::memory::desc a_any(dims{s.m, s.k}, input_type, tag::any);
  const dnnl::memory::desc b_any(dims{s.k, s.n}, input_type, tag::any);
  const dnnl::memory::desc c_md(dims{s.m, s.n}, dt::f32, tag::ab);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  auto& engine = cpu_engine();
  prepare_streams(1);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_any, b_any, c_md), attr, engine);
  const dnnl::memory::desc a_plain(dims{s.m, s.k}, input_type, s.trans_a ? dims{1, s.lda} : dims{s.lda, 1});
  const dnnl::memory::desc b_plain(dims{s.k, s.n}, input_type, s.trans_b ? dims{1, s.ldb} : dims{s.ldb, 1});
  if (pd.src_desc() == a_plain && pd.weights_desc() == b_plain) {
    layout = "plain";
    return std::nullopt;
  }
  const dnnl::matmul primitive(pd);
  dnnl::memory a(pd.src_desc(), engine), b(pd.weights_desc(), engine), c(pd.dst_desc(), engine);
  dnnl::memory scratch(pd.scratchpad_desc(), engine);
  fill_half(a.get_data_handle(), pd.src_desc().get_size(), s.bf16);
  fill_half(b.get_data_handle(), pd.weights_desc().get_size(), s.bf16);
  const auto b_desc = pd.weights_desc();
  layout = b_desc.data.format_kind == dnnl_blocked && b_desc.data.format_desc.blocking.inner_nblks > 0 ? "blocked" : "plain";
  auto& stream = cpu_stream();
  return call_seconds(
      [&] {
        primitive.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}, {DNNL_ARG_SCRATCHPAD, scratch}});
        stream.wait();
      },
      seconds_per_timing, timings);
}

// Register-only FMA chains: acc = acc * a + b stays near b / (1 - a) = 1e-3, never subnormal.
// Compiled at -O3 and uninstrumented in every build: under the sanitizers at -O1 the chains went
// through instrumented stack memory (2 GFLOP/s on Zen 1 instead of 40) and one peak measurement
// took seconds, 84 % of a small throughput point in the ASan tests. -O3, not -O2: at -O2 GCC 12
// keeps the 12 accumulators in memory and the kernel reads half the peak.
#define FFB_REGISTER_KERNEL __attribute__((optimize("O3"), no_sanitize("address", "undefined")))
FFB_REGISTER_KERNEL __attribute__((target("avx512f"))) float fma_chains_avx512(int64_t iterations) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i + 1));
  const __m512 a = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iterations; ++it)
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 sum = acc[0];
  for (int i = 1; i < 16; ++i) sum = _mm512_add_ps(sum, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  float total = 0.0f;
  for (float v : lanes) total += v;
  return total;
}

FFB_REGISTER_KERNEL __attribute__((target("avx2,fma"))) float fma_chains_avx2(int64_t iterations) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i + 1));
  const __m256 a = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iterations; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm256_add_ps(sum, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  float total = 0.0f;
  for (float v : lanes) total += v;
  return total;
}

FFB_REGISTER_KERNEL float fma_chains_scalar(int64_t iterations) {
  float acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = 0.001f * static_cast<float>(i + 1);
  for (int64_t it = 0; it < iterations; ++it)
    for (float& v : acc) v = v * 0.9999f + 1e-7f;
  float total = 0.0f;
  for (float v : acc) total += v;
  return total;
}
}  // namespace

namespace {
std::mutex packing_mutex;
std::map<MatmulShape, PackingChoice> packing_choices;
std::string packing_mode_set;  // set_packing_mode's; empty: the environment's
}  // namespace

void set_packing_mode(const std::string& mode) {
  const std::lock_guard<std::mutex> lock(packing_mutex);
  packing_mode_set = mode;
  packing_choices.clear();
}

namespace {
// The mode in force (the caller holds packing_mutex).
std::string packing_mode_locked() {
  const char* setting = std::getenv("FFB_PACKED_WEIGHTS");
  const std::string mode = !packing_mode_set.empty() ? packing_mode_set
                           : setting == nullptr || *setting == '\0' ? "auto" : setting;
  if (mode != "auto" && mode != "on" && mode != "off" && mode != "force")
    throw std::invalid_argument("FFB_PACKED_WEIGHTS='" + mode + "': use auto (measure each shape), on, off or force");
  return mode;
}
}  // namespace

bool packing_enabled() {
  const std::lock_guard<std::mutex> lock(packing_mutex);
  return packing_mode_locked() != "off";
}

namespace {
// The packed layout against the plain one on pseudo-random operands with both signs (so a ReLU
// post-op matters) and a bias: the same bits?, then the mode's decision, timed where it is "auto".
void decide_packing(const MatmulShape& s, const Matmul& plain, const Matmul& packed, const std::string& mode,
                    PackingChoice& choice) {
  const int64_t a_rows = s.trans_a ? s.k : s.m, b_rows = s.trans_b ? s.n : s.k;
  // Aligned as the arena aligns the step's operands, so the timings below compare the layouts only.
  const AlignedBuffer a_buffer(a_rows * s.lda * 4), b_buffer(b_rows * s.ldb * 4), bias_buffer(s.n * 4);
  float* const a = a_buffer.floats();
  float* const b = b_buffer.floats();
  float* const bias = bias_buffer.floats();
  uint32_t state = 12345u;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(static_cast<int32_t>(state >> 8) - (1 << 23)) / static_cast<float>(1 << 23);
  };
  for (int64_t i = 0; i < a_rows * s.lda; ++i) a[i] = next();
  for (int64_t i = 0; i < b_rows * s.ldb; ++i) b[i] = next();
  for (int64_t i = 0; i < s.n; ++i) bias[i] = next();
  const int64_t c_floats = s.m * s.ldc;
  const AlignedBuffer plain_buffer(c_floats * 4), packed_buffer(c_floats * 4), packed_b(packed.packed_b_bytes());
  const AlignedBuffer scratch(std::max(plain.scratchpad_bytes(), packed.scratchpad_bytes()));
  float* const plain_c = plain_buffer.floats();
  float* const packed_c = packed_buffer.floats();
  std::fill(plain_c, plain_c + c_floats, 0.5f);
  std::fill(packed_c, packed_c + c_floats, 0.5f);
  packed.pack_b(b, packed_b.bytes());
  plain.run(a, b, plain_c, bias, scratch.bytes());
  packed.run(a, packed_b.bytes(), packed_c, bias, scratch.bytes());
  choice.same_bits = std::memcmp(plain_c, packed_c, static_cast<size_t>(c_floats) * sizeof(float)) == 0;
  if (mode == "force") {
    choice.packed = true;
    choice.reason = "FFB_PACKED_WEIGHTS=force";
  } else if (!choice.same_bits) {
    choice.reason = "the packed product's bits differ from the plain one's";
  } else if (mode == "on") {
    choice.packed = true;
    choice.reason = "FFB_PACKED_WEIGHTS=on";
  } else {
    const CallTimes plain_times = call_seconds([&] { plain.run(a, b, plain_c, bias, scratch.bytes()); }, 0.01, 5);
    const CallTimes packed_times = call_seconds([&] { packed.run(a, packed_b.bytes(), packed_c, bias, scratch.bytes()); }, 0.01, 5);
    choice.plain_gflops = s.flops() / plain_times.fastest * 1e-9;
    choice.packed_gflops = s.flops() / packed_times.fastest * 1e-9;
    choice.packed = choice.packed_gflops >= 1.01 * choice.plain_gflops;
    choice.reason = fmt::format("measured {:.0f} GFLOP/s packed against {:.0f} plain", choice.packed_gflops, choice.plain_gflops);
  }
}
}  // namespace

const PackingChoice& packing_choice(const MatmulShape& shape) {
  auto& choices = packing_choices;
  MatmulShape s = shape;
  s.packed_b = false;
  s.threads = s.instance = 0;
  s = s.normalized();
  const std::lock_guard<std::mutex> lock(packing_mutex);
  const auto found = choices.find(s);
  if (found != choices.end()) return found->second;
  PackingChoice choice;
  const std::string mode = packing_mode_locked();
  MatmulShape p = s;
  p.packed_b = true;
  MatmulCache cache;
  const Matmul& plain = cache.get(s);
  const Matmul& packed = cache.get(p);
  choice.layout_differs = packed.packed_layout_differs();
  if (s.bf16 || mode == "off" || !choice.layout_differs) {
    choice.reason = s.bf16 ? "bf16 (training products only)" : mode == "off" ? "FFB_PACKED_WEIGHTS=off" : "oneDNN prefers the plain layout";
    return choices.emplace(s, choice).first->second;
  }
  decide_packing(s, plain, packed, mode, choice);
  return choices.emplace(s, choice).first->second;
}

GemmCeiling measure_gemm_ceiling(const MatmulShape& shape, double seconds_per_timing, int timings, bool blocked) {
  MatmulShape s = shape;
  s.accumulate = s.bias = s.relu = false;
  s.packed_b = false;  // the ceiling times the plain and the preferred layouts itself
  s.threads = s.instance = 0;  // the ceiling is the GEMM on all the process's threads, whatever the schedule
  s = s.normalized();
  GemmCeiling ceiling;
  const CallTimes plain = plain_seconds(s, seconds_per_timing, timings);
  ceiling.plain_gflops = s.flops() / plain.fastest * 1e-9;
  CallTimes blocked_times;
  if (blocked) try {
    const auto times = blocked_seconds(s, seconds_per_timing, timings, ceiling.blocked_layout);
    if (times) {
      blocked_times = *times;
      ceiling.blocked_gflops = s.flops() / blocked_times.fastest * 1e-9;
    }  // else oneDNN prefers the plain layout itself: one layout, timed once (blocked_gflops stays 0)
  } catch (const dnnl::error&) {
    ceiling.blocked_gflops = 0.0;  // no implementation for the preferred layout: the plain one stands
  }
  ceiling.best = ceiling.blocked_gflops > ceiling.plain_gflops ? "blocked" : "plain";
  ceiling.gflops = std::max(ceiling.plain_gflops, ceiling.blocked_gflops);
  ceiling.median_gflops = s.flops() / (ceiling.best == "blocked" ? blocked_times.median : plain.median) * 1e-9;
  return ceiling;
}

PeakFma measure_peak_fma(int threads_wanted) {
  PeakFma peak;
  peak.threads = threads_wanted > 0 ? threads_wanted : threads();
  int lanes = 1, chains = 8;
  float (*kernel)(int64_t) = fma_chains_scalar;
  peak.kernel = "scalar";
  if (__builtin_cpu_supports("avx512f")) {
    kernel = fma_chains_avx512, lanes = 16, chains = 16, peak.kernel = "avx512";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    kernel = fma_chains_avx2, lanes = 8, chains = 12, peak.kernel = "avx2";
  }
  const int64_t iterations = 20'000'000;  // about 50-150 ms per thread: shorter timings read low (clock ramp, thread wake-up)
  double best = 0.0;
  std::vector<float> results(static_cast<size_t>(peak.threads));  // kept, so the chains are not optimised away
  for (int timing = 0; timing < 5; ++timing) {
    const auto start = Clock::now();
#pragma omp parallel num_threads(peak.threads)
    results[static_cast<size_t>(omp_get_thread_num())] = kernel(iterations);
    const double seconds = since(start);
    const double flops = 2.0 * static_cast<double>(iterations) * chains * lanes * peak.threads;
    best = std::max(best, flops / seconds * 1e-9);
  }
  peak.gflops = best;
  peak.checksum = 0.0;
  for (float r : results) peak.checksum += r;
  return peak;
}

SharedWrite measure_shared_write(int64_t floats, int timings) {
  std::vector<float> w(static_cast<size_t>(std::max<int64_t>(floats, 16)), 1.0f);
  const int64_t n = static_cast<int64_t>(w.size());
  float* data = w.data();
  SharedWrite result;
  result.threads = omp_get_max_threads();
  double fastest[2] = {1e30, 1e30};
  float sink = 0.0f;
  for (int t = 0; t < std::max(timings, 1); ++t) {
    for (int shared = 0; shared < 2; ++shared) {
      float acc = 0.0f;
#pragma omp parallel reduction(+ : acc)
      {
        const int id = omp_get_thread_num(), team = omp_get_num_threads();
        const int64_t lo = shared ? 0 : n * id / team, hi = shared ? n : n * (id + 1) / team;
        for (int64_t i = lo; i < hi; i += 16) acc += data[i];  // one read per 64-byte line
      }
      sink += acc;
      const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) data[i] = 0.999f * data[i] + 0.001f;
      fastest[shared] = std::min(fastest[shared], std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  volatile float keep = sink;  // the reads' result is used, so they are not optimised away
  (void)keep;
  result.own_seconds = fastest[0];
  result.shared_seconds = fastest[1];
  return result;
}

namespace {
int64_t last_level_cache_bytes() {
  for (int index = 4; index >= 0; --index) {  // the highest cache level the OS lists for cpu0
    std::ifstream file(fmt::format("/sys/devices/system/cpu/cpu0/cache/index{}/size", index));
    std::string text;
    if (!(file >> text) || text.empty()) continue;
    int64_t value = std::strtoll(text.c_str(), nullptr, 10);
    const char unit = text.back();
    if (unit == 'K') value <<= 10;
    if (unit == 'M') value <<= 20;
    if (value > 0) return value;
  }
  return 0;
}
}  // namespace

MemoryBandwidth measure_memory_bandwidth(int64_t floats, int timings) {
  MemoryBandwidth result;
  result.last_level_cache_bytes = last_level_cache_bytes();
  if (floats <= 0) {
    const int64_t footprint = std::max<int64_t>(int64_t{64} << 20, 8 * result.last_level_cache_bytes);
    floats = footprint / 4 / static_cast<int64_t>(sizeof(float));
  }
  result.floats = floats;
  result.bytes_per_pass = 28 * floats;
  result.threads = omp_get_max_threads();
  const AlignedBuffer buffer(4 * floats * static_cast<int64_t>(sizeof(float)));
  float* __restrict w = buffer.floats();
  float* __restrict g = w + floats;
  float* __restrict m = g + floats;
  float* __restrict v = m + floats;
#pragma omp parallel for schedule(static)  // first touch by the thread that streams each share
  for (int64_t i = 0; i < floats; ++i) w[i] = 1.0f, g[i] = 1e-3f, m[i] = 0.0f, v[i] = 0.0f;
  double fastest = 1e30;
  for (int t = 0; t <= std::max(timings, 1); ++t) {
    const auto start = Clock::now();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < floats; ++i) {
      m[i] = 0.5f * m[i] + g[i];  // bounded (m <= 2 g, v <= 4 g): no growth, no subnormals
      v[i] = 0.75f * v[i] + g[i];
      w[i] -= 1e-3f * (m[i] - v[i]);
    }
    if (t > 0) fastest = std::min(fastest, since(start));  // the first pass is untimed
  }
  result.gbps = static_cast<double>(result.bytes_per_pass) / fastest * 1e-9;
  return result;
}

}  // namespace ffb
