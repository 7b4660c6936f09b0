// Denormal handling (issue 17): FTZ/DAZ on every thread by default, `keep` for the study; the
// census that finds subnormal values by their bits; the same accuracy with and without flushing;
// a collapsed run is recorded as such.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <omp.h>

#include "algorithms/registry.hpp"
#include "algorithms/backend/arena.hpp"
#include "algorithms/backend/engine.hpp"
#include "bench/harness/training.hpp"
#include "datasets/dataset.hpp"
#include "tests/algorithm_helpers.hpp"
#include "tests/skip.hpp"

using namespace ffb;

namespace {
// Multiplies a tiny normal number on every OpenMP thread; counts threads whose product stayed subnormal.
int threads_keeping_subnormals() {
  int keeping = 0;
  volatile float tiny = std::numeric_limits<float>::min();  // smallest normal
#pragma omp parallel reduction(+ : keeping)
  {
    const float product = tiny * 0.25f;  // subnormal in IEEE arithmetic, 0 under FTZ
    keeping += product != 0.0f ? 1 : 0;
  }
  return keeping;
}

struct RestoreFlush {
  ~RestoreFlush() { set_denormals(Denormals::flush); }
};
}  // namespace

TEST_CASE("denormals: flush sets FTZ/DAZ on every OpenMP thread, keep clears them", "[denormals]") {
  RestoreFlush restore;
  set_threads(2);
  set_denormals(Denormals::flush);
  CHECK(denormal_mode_on_all_threads());
  CHECK(threads_keeping_subnormals() == 0);
  set_denormals(Denormals::keep);
  CHECK(denormal_mode_on_all_threads());
  CHECK(threads_keeping_subnormals() == omp_get_max_threads());
  set_denormals(Denormals::flush);
  set_threads(2);  // re-applies the mode to the pool
  CHECK(denormal_mode_on_all_threads());
  CHECK(std::string(to_string(parse_denormals("keep"))) == "keep");
  CHECK_THROWS_WITH(parse_denormals("off"), Catch::Contains("flush") && Catch::Contains("keep"));
}

TEST_CASE("denormals: the census finds subnormal values by their bits, also under DAZ", "[denormals]") {
  RestoreFlush restore;
  MemoryPlan plan;
  const auto weights = plan.add_floats("layer0.weight", MemCategory::weights, 8);
  plan.add_bytes("raw", MemCategory::activations, 64);  // not f32: not inspected
  Arena arena;
  arena.allocate(plan);
  float* w = arena.floats(weights);
  w[0] = std::numeric_limits<float>::denorm_min();
  w[1] = -std::numeric_limits<float>::min() / 4.0f;
  w[2] = 1.0f;
  for (auto mode : {Denormals::flush, Denormals::keep}) {
    set_denormals(mode);
    const auto census = value_census(arena);
    REQUIRE(census.size() == 1);
    CHECK(census[0].name == "layer0.weight");
    CHECK(census[0].values == 8);
    CHECK(census[0].subnormal == 2);
    CHECK(census[0].zero == 5);
  }
}

TEST_CASE("denormals: FF reaches the same MNIST accuracy with and without FTZ/DAZ", "[denormals][mnist]") {
  if (!data::is_available("mnist"))
    ffb::testing::skip_test("MNIST not found under " + data::data_dir() + "; run scripts/fetch_data.sh to test it");
  RestoreFlush restore;
  set_threads(1);  // quick under the sanitizers; the mode on every pool thread is the first test's
  data::DatasetSpec spec;
  spec.name = "mnist";
  spec.limit_train = 10000;
  spec.limit_test = 2000;
  const auto data = data::load(spec);
  auto accuracy = [&](Denormals mode, uint64_t seed) {
    set_denormals(mode);
    TrainConfig config;
    config.algorithm = "ff";
    config.options = {{"lr", 0.003}};
    config.hidden = {256, 256};
    config.batch = 100;
    config.epochs = 6;
    config.seed = seed;
    auto algorithm = create_algorithm(config.algorithm, config.options);
    const auto result = train(*algorithm, config, data);
    REQUIRE(result.status == PointStatus::ok);
    return result.epochs.back().test_accuracy.back();  // softmax prediction
  };
  const double flush = accuracy(Denormals::flush, 1), keep = accuracy(Denormals::keep, 1);
  const double other_seed = accuracy(Denormals::flush, 2);
  const double seed_noise = std::fabs(flush - other_seed);
  INFO("flush " << flush << ", keep " << keep << ", flush with seed 2 " << other_seed);
  CHECK(flush > 0.8);  // it learned
  CHECK(std::fabs(flush - keep) <= std::max(0.01, 2.0 * seed_noise));
  set_threads(2);
}

TEST_CASE("training: a run stuck at chance level is recorded as collapsed and stops", "[denormals][training]") {
  const auto data = ffb::testing::small_synthetic(1000, 400);
  TrainConfig config;
  config.algorithm = "bp";
  config.hidden = {32};
  config.batch = 50;
  config.epochs = 6;
  config.seed = 1;
  config.options = {{"lr", 1e-9}};  // learns nothing: stays at its initial, chance-level accuracy
  auto frozen = create_algorithm("bp", config.options);
  const auto stuck = train(*frozen, config, data);
  INFO(stuck.detail);
  CHECK(stuck.status == PointStatus::collapsed);
  CHECK(stuck.epochs.size() == 3);  // stopped after the third evaluation at chance
  CHECK_THAT(stuck.detail, Catch::Contains("chance"));

  config.options = {{"lr", 0.05}};
  auto learning = create_algorithm("bp", config.options);
  CHECK(train(*learning, config, data).status == PointStatus::ok);
}

TEST_CASE("options: out-of-range numbers are errors that name the range", "[options]") {
  CHECK_THROWS_WITH(create_algorithm("ff", {{"lr", -1}}), Catch::Contains("'lr'") && Catch::Contains("> 0"));
  CHECK_THROWS_WITH(create_algorithm("bp", {{"momentum", 1.5}}), Catch::Contains("momentum"));
  CHECK_THROWS_WITH(create_algorithm("ff", {{"peer_normalization", -0.1}}), Catch::Contains("peer_normalization"));
  CHECK_NOTHROW(create_algorithm("ff", {{"lr", 0.01}}));
}
