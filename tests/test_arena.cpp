// The tagged arena: planned bytes equal allocated bytes per category, alignment, live-byte peaks.
#include <catch2/catch.hpp>

#include <cstdint>

#include "algorithms/backend/arena.hpp"

TEST_CASE("arena allocates exactly what was planned, per category, aligned", "[arena]") {
  ffb::MemoryPlan plan;
  auto w = plan.add_floats("w", ffb::MemCategory::weights, 1000);
  auto g = plan.add_floats("g", ffb::MemCategory::grads, 1000);
  auto a1 = plan.add_floats("a1", ffb::MemCategory::activations, 17);
  auto a2 = plan.add_floats("a2", ffb::MemCategory::activations, 100);
  auto s = plan.add_bytes("scratch", ffb::MemCategory::scratch, 3);
  ffb::Arena arena;
  arena.allocate(plan);

  CHECK(arena.bytes(ffb::MemCategory::weights) == 4000 + 32);  // rounded to 64
  CHECK(arena.bytes(ffb::MemCategory::grads) == 4032);
  CHECK(arena.bytes(ffb::MemCategory::activations) == 128 + 448);
  CHECK(arena.bytes(ffb::MemCategory::scratch) == 64);
  CHECK(arena.bytes(ffb::MemCategory::optimizer) == 0);
  int64_t sum = 0;
  for (int c = 0; c < ffb::kMemCategories; ++c) sum += arena.bytes(static_cast<ffb::MemCategory>(c));
  CHECK(sum == arena.allocated_bytes());
  for (auto id : {w, g, a1, a2, s}) CHECK(reinterpret_cast<uintptr_t>(arena.raw(id)) % 64 == 0);
  // Buffers do not overlap: writing the whole of one leaves its neighbour intact.
  float* first = arena.floats(a1);
  float* second = arena.floats(a2);
  for (int i = 0; i < 100; ++i) second[i] = 7.0f;
  for (int i = 0; i < 17; ++i) first[i] = 1.0f;
  CHECK(second[0] == 7.0f);
}

TEST_CASE("arena tracks the peak of live activation bytes", "[arena]") {
  ffb::MemoryPlan plan;
  auto a = plan.add_floats("a", ffb::MemCategory::activations, 16);   // 64 bytes
  auto b = plan.add_floats("b", ffb::MemCategory::activations, 32);   // 128 bytes
  auto c = plan.add_floats("c", ffb::MemCategory::activations, 64);   // 256 bytes
  ffb::Arena arena;
  arena.allocate(plan);
  arena.mark_live(a);
  arena.mark_live(b);
  arena.mark_dead(a);
  arena.mark_live(c);
  arena.mark_live(c);  // idempotent
  CHECK(arena.live_activation_bytes() == 384);
  CHECK(arena.peak_live_activation_bytes() == 384);
  arena.mark_dead(b);
  arena.mark_dead(c);
  CHECK(arena.live_activation_bytes() == 0);
  CHECK(arena.peak_live_activation_bytes() == 384);
}

TEST_CASE("arena rejects views larger than their buffer", "[arena]") {
  ffb::MemoryPlan plan;
  auto a = plan.add_floats("a", ffb::MemCategory::activations, 10);
  ffb::Arena arena;
  arena.allocate(plan);
  CHECK_THROWS_WITH(arena.mat(a, 3, 4), Catch::Contains("does not fit"));
  CHECK_THROWS(plan.add_floats("neg", ffb::MemCategory::scratch, -1));
}

TEST_CASE("aligned buffers start where the arena's buffers start: on a 64-byte line, zeroed", "[arena]") {
  for (const int64_t bytes : {int64_t{0}, int64_t{4}, int64_t{1000}, int64_t{3} << 20}) {
    const ffb::AlignedBuffer buffer(bytes);
    CHECK(buffer.size() == bytes);
    CHECK(reinterpret_cast<uintptr_t>(buffer.bytes()) % ffb::kAlignment == 0);
    bool zero = true;
    for (int64_t i = 0; i < bytes; ++i) zero = zero && buffer.bytes()[i] == 0;
    CHECK(zero);
  }
  CHECK_THROWS_WITH(ffb::AlignedBuffer(-1), Catch::Contains("-1 bytes"));
}
