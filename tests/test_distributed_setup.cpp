// The distributed modes' set-up, without MPI (the 2-rank equality runs are tests/mpi/): how FF's
// layers are cut into pipeline blocks, which algorithm and option combinations each mode refuses
// (and that the refusal says what to change), and the suite fields `ranks` and `distributed`.
#include <catch2/catch.hpp>

#include "algorithms/registry.hpp"
#include "algorithms/ff/ff.hpp"
#include "bench/harness/suite.hpp"

using namespace ffb;

namespace {
bool everything_available(const std::string&) { return true; }
Suite parse(const std::string& experiment) {
  return parse_suite(R"({"schema": 1, "dataset": "synthetic", "experiments": [)" + experiment + "]}", "test.json",
                     &everything_available);
}
}  // namespace

TEST_CASE("distributed: pipeline blocks are contiguous and keep the largest block as small as possible", "[distributed]") {
  CHECK(ForwardForward::partition_layers({1, 1, 1, 1}, 2) == std::vector<int64_t>{0, 2, 4});
  CHECK(ForwardForward::partition_layers({1, 1, 1, 1}, 4) == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(ForwardForward::partition_layers({1, 1, 1, 1}, 1) == std::vector<int64_t>{0, 4});
  // [64,48,40,32]: 3072, 1920, 1280 multiply-adds: {1} {2,3} (largest 3200) beats {1,2} {3} (4992).
  CHECK(ForwardForward::partition_layers({3072, 1920, 1280}, 2) == std::vector<int64_t>{0, 1, 3});
  // 784x2000 then 3 x 2000x2000 over 2 ranks: {1,2} {3,4} (5.57M, 8M) beats {1} {2,3,4} (1.57M, 12M).
  CHECK(ForwardForward::partition_layers({1568000, 4000000, 4000000, 4000000}, 2) == std::vector<int64_t>{0, 2, 4});
  CHECK_THROWS_WITH(ForwardForward::partition_layers({1, 1}, 3), Catch::Contains("cannot split 2 layers into 3"));
}

TEST_CASE("distributed: each mode refuses what it cannot run, and says what to change", "[distributed]") {
  auto problem = [](const std::string& name, const nlohmann::json& options, DistributedMode mode) {
    return create_algorithm(name, options)->distribution_problem(mode);
  };
  CHECK(problem("ff", {}, DistributedMode::data).empty());
  CHECK(problem("bp", {}, DistributedMode::data).empty());
  CHECK(problem("ff_symba", {}, DistributedMode::data).empty());
  CHECK_THAT(problem("bp", {}, DistributedMode::pipeline), Catch::Contains("use --distributed data"));
  CHECK_THAT(problem("ff", {}, DistributedMode::pipeline), Catch::Contains("schedule=pipelined"));
  CHECK_THAT(problem("ff", {{"schedule", "pipelined"}}, DistributedMode::pipeline), Catch::Contains("classifier=false"));
  CHECK(problem("ff", {{"schedule", "pipelined"}, {"classifier", false}}, DistributedMode::pipeline).empty());
  CHECK_THAT(problem("ff", {{"schedule", "pipelined"}}, DistributedMode::data), Catch::Contains("--distributed pipeline"));
  // Without a communicator (not under mpirun) nothing distributed starts.
  auto ff = create_algorithm("ff", {{"schedule", "pipelined"}, {"classifier", false}});
  CHECK_THROWS_WITH(ff->distribute(DistributedMode::pipeline, nullptr), Catch::Contains("mpirun"));
  CHECK_THROWS_WITH(create_algorithm("bp", {})->distribute(DistributedMode::pipeline, nullptr), Catch::Contains("mpirun"));
  CHECK_NOTHROW(ff->distribute(DistributedMode::none, nullptr));
  CHECK(to_string(distributed_mode_from("pipeline")) == "pipeline");
  CHECK_THROWS_WITH(distributed_mode_from("model"), Catch::Contains("none, data"));
}

TEST_CASE("suite: ranks and distributed make mpirun points; wrong uses name the field", "[distributed][suite]") {
  const auto suite = parse(R"({"name": "d", "ranks": [2, 4], "threads": 1, "hidden": [64, 64, 64, 64], "algorithms": [
      {"algorithm": "bp", "label": "bp"}, {"algorithm": "bp", "label": "bp", "distributed": "data"},
      {"algorithm": "ff", "label": "pipe", "distributed": "pipeline", "options": {"schedule": "pipelined", "classifier": false}}]})");
  REQUIRE(suite.points.size() == 5);  // one process, then 2 and 4 ranks of each distributed entry
  CHECK(suite.points[0].ranks == 1);
  CHECK(suite.points[0].distributed == "none");
  CHECK(suite.points[1].id == "d.bp.d4-w64-b128-t1-s1-n2");
  CHECK(suite.points[2].ranks == 4);
  CHECK(suite.points[4].distributed == "pipeline");
  const auto again = SuitePoint::from_json(suite.points[4].to_json());
  CHECK(again.distributed == "pipeline");
  CHECK(again.ranks == 4);
  CHECK_FALSE(suite.points[0].to_json().contains("ranks"));  // one-process points are written as before

  auto error_of = [](const std::string& experiment) -> std::string {
    try {
      parse(experiment);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "accepted";
  };
  CHECK_THAT(error_of(R"({"name": "d", "ranks": 2, "algorithms": [{"algorithm": "bp"}]})"),
             Catch::Contains("ranks") && Catch::Contains("distributed"));
  CHECK_THAT(error_of(R"({"name": "d", "measure": "throughput", "algorithms": [{"algorithm": "bp", "distributed": "data"}]})"),
             Catch::Contains("measure 'convergence'"));
  CHECK_THAT(error_of(R"({"name": "d", "algorithms": [{"algorithm": "ff", "distributed": "pipeline"}]})"),
             Catch::Contains("schedule=pipelined"));
  CHECK_THAT(error_of(R"({"name": "d", "algorithms": [{"algorithm": "bp", "distributed": "model"}]})"),
             Catch::Contains("distributed"));
  CHECK_THAT(error_of(R"({"name": "d", "ranks": 0, "algorithms": [{"algorithm": "bp", "distributed": "data"}]})"),
             Catch::Contains("ranks"));
}

TEST_CASE("suite: links sweep the distributed entries over emulated networks; a bad link names the forms", "[distributed][suite]") {
  const auto suite = parse(R"({"name": "n", "links": ["none", "1gbit", "unshaped"], "threads": 1, "hidden": [64, 64],
      "algorithms": [{"algorithm": "bp", "label": "bp"}, {"algorithm": "bp", "label": "bp", "distributed": "data"}]})");
  REQUIRE(suite.points.size() == 4);  // the one-process entry once, the distributed one per link
  CHECK(suite.points[0].link.empty());
  CHECK(suite.points[1].id == "n.bp.d2-w64-b128-t1-s1-n2");
  CHECK(suite.points[1].link.empty());
  CHECK(suite.points[2].id == "n.bp.d2-w64-b128-t1-s1-n2-l1gbit");
  CHECK(suite.points[3].link == "unshaped");
  CHECK(SuitePoint::from_json(suite.points[2].to_json()).link == "1gbit");
  CHECK_FALSE(suite.points[1].to_json().contains("link"));  // shared-memory points are written as before
  for (const auto* bad : {R"("fast")", R"("1gb")", R"(10)", R"("gbit")"}) {
    std::string what = "accepted";
    try {
      parse(std::string(R"({"name": "n", "links": [)") + bad + R"(], "algorithms": [{"algorithm": "bp", "distributed": "data"}]})");
    } catch (const std::exception& e) {
      what = e.what();
    }
    CHECK_THAT(what, Catch::Contains("links") && Catch::Contains("1gbit"));
  }
}
