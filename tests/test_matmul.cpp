// oneDNN matmul against the plain-loop reference: every transpose combination, odd shapes,
// accumulate, bias and ReLU post-ops, strided views; tolerance grows with K.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include <dnnl.hpp>
#include <omp.h>

#include "algorithms/backend/ceiling.hpp"
#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/kernels.hpp"
#include "algorithms/backend/matmul.hpp"
#include "algorithms/backend/reference.hpp"
#include "common/rng.hpp"
#include "tests/skip.hpp"

namespace {

std::vector<float> random_floats(int64_t n, uint64_t seed) {
  ffb::Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = 2.0f * rng.uniform() - 1.0f;
  return v;
}

// Checks oneDNN against the reference for one shape; returns the worst error relative to tolerance.
void check_against_reference(ffb::MatmulShape s) {
  s = s.normalized();
  const int64_t a_rows = s.trans_a ? s.k : s.m, b_rows = s.trans_b ? s.n : s.k;
  auto a = random_floats(a_rows * s.lda, 11), b = random_floats(b_rows * s.ldb, 12);
  auto bias = random_floats(s.n, 13);
  auto c_init = random_floats(s.m * s.ldc, 14);
  auto c_fast = c_init, c_ref = c_init;
  ffb::matmul(s, a.data(), b.data(), c_fast.data(), s.bias ? bias.data() : nullptr);
  ffb::ref::matmul(s, a.data(), b.data(), c_ref.data(), s.bias ? bias.data() : nullptr);
  // Inputs in [-1, 1]: the rounding error of a K-term f32 dot product grows like K * eps.
  const float tolerance = 1e-5f * static_cast<float>(s.k) + 1e-5f;
  float worst = 0.0f;
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < s.ldc; ++j) {
      const float fast = c_fast[i * s.ldc + j], ref = c_ref[i * s.ldc + j];
      if (j >= s.n) {
        // Padding columns of a strided C must be untouched.
        REQUIRE(fast == c_init[i * s.ldc + j]);
        continue;
      }
      worst = std::max(worst, std::fabs(fast - ref));
    }
  INFO(s.describe() << " worst error " << worst << " tolerance " << tolerance);
  CHECK(worst <= tolerance);
}

}  // namespace

TEST_CASE("matmul matches the reference for every transpose combination and odd shapes", "[matmul]") {
  const int64_t sizes[][3] = {{1, 1, 1}, {7, 1, 7}, {1, 7, 1023}, {7, 1023, 7}, {33, 17, 1023}, {64, 130, 65}};
  for (const auto& mnk : sizes)
    for (int transposes = 0; transposes < 4; ++transposes) {
      ffb::MatmulShape s;
      s.m = mnk[0];
      s.n = mnk[1];
      s.k = mnk[2];
      s.trans_a = transposes & 1;
      s.trans_b = transposes & 2;
      check_against_reference(s);
    }
}

TEST_CASE("matmul accumulate, bias and relu post-ops match the reference", "[matmul]") {
  for (int options = 0; options < 8; ++options)
    for (int transposes = 0; transposes < 4; ++transposes) {
      ffb::MatmulShape s;
      s.m = 19;
      s.n = 23;
      s.k = 129;
      s.trans_a = transposes & 1;
      s.trans_b = transposes & 2;
      s.accumulate = options & 1;
      s.bias = options & 2;
      s.relu = options & 4;
      check_against_reference(s);
    }
}

TEST_CASE("matmul works on strided views without copying", "[matmul]") {
  ffb::MatmulShape s;
  s.m = 9;
  s.n = 11;
  s.k = 13;
  s.lda = 20;
  s.ldb = 16;
  s.ldc = 15;
  check_against_reference(s);
  s.trans_a = s.trans_b = true;
  s.lda = 12;
  s.ldb = 14;
  check_against_reference(s);
}

TEST_CASE("matmul rejects impossible shapes with a clear message", "[matmul]") {
  ffb::MatmulShape s;
  s.m = 0;
  s.n = 4;
  s.k = 4;
  CHECK_THROWS_WITH(ffb::Matmul(s), Catch::Contains("impossible shape"));
  s.m = 4;
  s.lda = 2;  // shorter than K
  CHECK_THROWS_WITH(ffb::Matmul(s), Catch::Contains("row stride"));
}

TEST_CASE("matmul cache creates one primitive per shape and reports its scratchpad", "[matmul]") {
  ffb::MatmulCache cache;
  ffb::MatmulShape s;
  s.m = 16;
  s.n = 16;
  s.k = 16;
  const auto& first = cache.get(s);
  const auto& again = cache.get(s);
  CHECK(&first == &again);
  s.relu = true;
  cache.get(s);
  CHECK(cache.primitives_created() == 2);
  CHECK(cache.max_scratchpad_bytes() >= 0);
}

TEST_CASE("bf16 matmul matches the reference on the same bfloat16 inputs", "[matmul][bf16]") {
  for (int transposes = 0; transposes < 4; ++transposes) {
    ffb::MatmulShape s;
    s.m = 33;
    s.n = 17;
    s.k = 129;
    s.trans_a = transposes & 1;
    s.trans_b = transposes & 2;
    s.bias = true;
    s.bf16 = true;
    s = s.normalized();
    auto a32 = random_floats(s.m * s.k, 21), b32 = random_floats(s.k * s.n, 22), bias = random_floats(s.n, 23);
    std::vector<uint16_t> a(a32.size()), b(b32.size());
    ffb::kern::to_bf16(a.data(), a32.data(), static_cast<int64_t>(a32.size()));
    ffb::kern::to_bf16(b.data(), b32.data(), static_cast<int64_t>(b32.size()));
    std::vector<float> fast(static_cast<size_t>(s.m * s.n)), ref(fast.size());
    try {
      ffb::matmul(s, a.data(), b.data(), fast.data(), bias.data());
    } catch (const std::runtime_error& e) {
      ffb::testing::skip_test(std::string("bf16 matmul unavailable on this CPU: ") + e.what());
    }
    ffb::ref::matmul(s, a.data(), b.data(), ref.data(), bias.data());
    float worst = 0.0f;
    for (size_t i = 0; i < fast.size(); ++i) worst = std::max(worst, std::fabs(fast[i] - ref[i]));
    INFO(s.describe() << " worst " << worst);
    CHECK(worst <= 1e-5f * static_cast<float>(s.k) + 1e-5f);
  }
}

TEST_CASE("bf16 conversion rounds to nearest even and keeps NaN", "[kernels][bf16]") {
  const float values[] = {1.0f, 1.00390625f /* halfway: 1 + 2^-8 */, 1.01171875f /* 1 + 3*2^-8 */, -2.5f, 0.0f};
  uint16_t bits[5];
  ffb::kern::to_bf16(bits, values, 5);
  CHECK(ffb::kern::from_bf16(bits[0]) == 1.0f);
  CHECK(ffb::kern::from_bf16(bits[1]) == 1.0f);          // tie goes to the even mantissa
  CHECK(ffb::kern::from_bf16(bits[2]) == 1.015625f);     // tie goes up to the even one
  CHECK(ffb::kern::from_bf16(bits[3]) == -2.5f);
  const float nan = std::nanf("");
  uint16_t nan_bits;
  ffb::kern::to_bf16(&nan_bits, &nan, 1);
  CHECK(std::isnan(ffb::kern::from_bf16(nan_bits)));
}

TEST_CASE("matmul cache counts each primitive's runs, FLOPs and seconds", "[matmul]") {
  ffb::MatmulCache cache;
  const ffb::MatmulShape a{.m = 8, .n = 12, .k = 16}, b{.m = 4, .n = 4, .k = 32, .trans_a = true};
  const auto& op_a = cache.get(a);
  const auto& op_b = cache.get(b);
  std::vector<float> x(512, 0.5f), y(512, 0.25f), out(512);
  std::vector<char> scratch(static_cast<size_t>(cache.max_scratchpad_bytes()) + 64);
  for (const auto& [seconds, runs] : cache.run_seconds_each()) CHECK(seconds == 0.0);
  for (int i = 0; i < 3; ++i) op_a.run(x.data(), y.data(), out.data(), nullptr, scratch.data());
  for (int i = 0; i < 2; ++i) op_b.run(x.data(), y.data(), out.data(), nullptr, scratch.data());
  CHECK(op_a.runs() == 3);
  CHECK(op_b.runs() == 2);
  CHECK(op_a.seconds() > 0.0);
  CHECK(op_b.seconds() > 0.0);
  const auto counts = cache.run_counts();
  const auto each = cache.run_seconds_each();
  REQUIRE(each.size() == counts.size());
  double flops = 0.0, seconds = 0.0;
  for (size_t i = 0; i < each.size(); ++i) {
    CHECK(each[i].second == counts[i].second);  // the same order
    flops += counts[i].first.flops() * static_cast<double>(counts[i].second);
    seconds += each[i].first;
  }
  CHECK(flops == 3 * a.flops() + 2 * b.flops());
  CHECK(seconds == Approx(op_a.seconds() + op_b.seconds()));
}

TEST_CASE("matmul with B packed in oneDNN's preferred layout matches the reference", "[matmul]") {
  // The packed twin reads B converted by pack_b from the plain layout the unpacked shape reads
  // (strides and transposes included); with post-ops as inference runs them.
  const int64_t sizes[][3] = {{1, 1, 1}, {7, 33, 17}, {32, 24, 64}, {64, 130, 65}, {256, 500, 784}};
  for (const auto& mnk : sizes)
    for (int variant = 0; variant < 4; ++variant) {
      const bool transposed = variant & 1, post_ops = variant & 2;
      check_against_reference(
          {.m = mnk[0], .n = mnk[1], .k = mnk[2], .trans_b = transposed, .bias = post_ops, .relu = post_ops, .packed_b = true});
    }
  ffb::MatmulShape strided{.m = 9, .n = 11, .k = 13, .packed_b = true, .ldb = 16};
  check_against_reference(strided);
}

TEST_CASE("shared write: both passes timed on the process's threads, the ratio is theirs", "[matmul]") {
  const auto times = ffb::measure_shared_write(4096, 2);
  CHECK(times.threads == omp_get_max_threads());
  CHECK(times.own_seconds > 0.0);
  CHECK(times.shared_seconds > 0.0);
  CHECK(times.ratio() == Approx(times.shared_seconds / times.own_seconds).epsilon(1e-12));
  CHECK(ffb::SharedWrite{}.ratio() == 0.0);  // nothing timed: no ratio, not a division by zero
}

TEST_CASE("memory roof: a pass of 28 bytes a float on the process's threads, arrays sized from the cache", "[matmul]") {
  const auto small = ffb::measure_memory_bandwidth(4096, 2);
  CHECK(small.threads == omp_get_max_threads());
  CHECK(small.floats == 4096);
  CHECK(small.bytes_per_pass == 28 * 4096);
  CHECK(std::isfinite(small.gbps));
  CHECK(small.gbps > 0.0);
  CHECK(small.last_level_cache_bytes >= 0);
}

TEST_CASE("packing choices: off never packs, force packs wherever the layout differs, on only with equal bits", "[matmul]") {
  const ffb::MatmulShape shape{.m = 48, .n = 40, .k = 72, .bias = true, .relu = true};
  ffb::set_packing_mode("off");
  CHECK_FALSE(ffb::packing_choice(shape).packed);
  ffb::set_packing_mode("force");
  const auto forced = ffb::packing_choice(shape);
  CHECK(forced.packed == forced.layout_differs);
  ffb::set_packing_mode("on");
  const auto on = ffb::packing_choice(shape);
  CHECK(on.packed == (on.layout_differs && on.same_bits));
  ffb::set_packing_mode("sometimes");
  CHECK_THROWS_WITH(ffb::packing_choice(shape), Catch::Contains("use auto"));
  ffb::set_packing_mode("");
  const auto measured = ffb::packing_choice(shape);  // auto: a measured choice, packed only with equal bits
  CHECK((!measured.packed || measured.same_bits));
  CHECK_FALSE(measured.reason.empty());
}

TEST_CASE("ceiling: the preferred layouts are timed only where they differ from the plain ones", "[matmul]") {
  // Which layouts oneDNN prefers depends on the CPU (AVX2's gemm keeps row-major, AVX-512's brgemm
  // blocks B), so the test asks oneDNN itself, then checks the ceiling did what that answer calls for:
  // a second timing of the very layout the plain timing ran would only be the fastest of more
  // timings of one GEMM, a gap the report would blame on the layout.
  using dims = dnnl::memory::dims;
  using dt = dnnl::memory::data_type;
  for (const bool trans_a : {false, true}) {
    const ffb::MatmulShape shape{.m = 64, .n = 96, .k = 80, .trans_a = trans_a};
    const dnnl::memory::desc a_any(dims{64, 80}, dt::f32, dnnl::memory::format_tag::any);
    const dnnl::memory::desc b_any(dims{80, 96}, dt::f32, dnnl::memory::format_tag::any);
    const dnnl::memory::desc c_md(dims{64, 96}, dt::f32, dnnl::memory::format_tag::ab);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_any, b_any, c_md), ffb::cpu_engine());
    const dnnl::memory::desc a_plain(dims{64, 80}, dt::f32, trans_a ? dims{1, 64} : dims{80, 1});
    const dnnl::memory::desc b_plain(dims{80, 96}, dt::f32, dims{96, 1});
    const bool same = pd.src_desc() == a_plain && pd.weights_desc() == b_plain;
    const auto ceiling = ffb::measure_gemm_ceiling(shape, 0.002, 2);
    INFO("trans_a " << trans_a << ", oneDNN prefers the plain layouts: " << same);
    CHECK(ceiling.plain_gflops > 0.0);
    CHECK((ceiling.blocked_gflops == 0.0) == same);
    if (same) {
      CHECK(ceiling.best == "plain");
      CHECK(ceiling.gflops == ceiling.plain_gflops);
    }
    CHECK(ceiling.gflops == std::max(ceiling.plain_gflops, ceiling.blocked_gflops));
  }
}
