// Suite files: each malformed file gets an error naming the field and what is allowed; expansion of
// sweep axes; the shipped suites parse; atomic writes leave no partial file.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "algorithms/algorithm.hpp"
#include "bench/harness/point.hpp"
#include "bench/harness/suite.hpp"
#include "bench/harness/training.hpp"

using namespace ffb;

namespace {
bool everything_available(const std::string&) { return true; }
bool only_synthetic(const std::string& name) { return name == "synthetic"; }

Suite parse(const std::string& text) { return parse_suite(text, "test.json", &everything_available); }

std::string with_experiment(const std::string& experiment) {
  return R"({"schema": 1, "dataset": "synthetic", "experiments": [)" + experiment + "]}";
}
}  // namespace

TEST_CASE("suite: a valid file expands its sweep axes as a product", "[suite]") {
  const auto suite = parse(with_experiment(R"({"name": "depth", "measure": "throughput",
      "algorithms": [{"algorithm": "bp"}, {"algorithm": "ff", "label": "ff-a", "options": {"lr": 0.01}}],
      "hidden": [64], "seeds": [1, 2], "sweep": {"depth": [1, 3], "threads": [1, 2]}})"));
  CHECK(suite.points.size() == 2 * 2 * 2 * 2);
  CHECK(suite.points[0].hidden == std::vector<int64_t>{64});
  bool saw_depth3 = false;
  for (const auto& p : suite.points) saw_depth3 |= p.hidden == std::vector<int64_t>{64, 64, 64};
  CHECK(saw_depth3);
  CHECK(suite.points.back().label == "ff-a");
  // Round trip through the point file.
  const auto again = SuitePoint::from_json(suite.points[5].to_json());
  CHECK(again.id == suite.points[5].id);
  CHECK(again.hidden == suite.points[5].hidden);
}

TEST_CASE("suite: malformed files get errors naming the field and the fix", "[suite]") {
  CHECK_THROWS_WITH(parse("{not json"), Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(parse(R"({"schema": 2, "experiments": []})"), Catch::Contains("suite.schema"));
  CHECK_THROWS_WITH(parse(R"({"experiments": []})"), Catch::Contains("non-empty list of experiments"));
  CHECK_THROWS_WITH(parse(R"({"experimentz": []})"), Catch::Contains("'suite.experimentz' is not a known field"));
  CHECK_THROWS_WITH(parse(R"({"dataset": "cifar", "experiments": [{}]})"),
                    Catch::Contains("'suite.dataset' is 'cifar'; allowed: fashion, mnist, synthetic"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"measure": "throughput", "algorithms": [{"algorithm": "bp"}]})")),
                    Catch::Contains("experiments[0].name"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "measure": "speed", "algorithms": [{"algorithm": "bp"}]})")),
                    Catch::Contains("allowed: convergence, throughput"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "algorithms": []})")),
                    Catch::Contains("experiments[0].algorithms"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "algorithms": [{"algorithm": "sgd-net"}]})")),
                    Catch::Contains("unknown algorithm 'sgd-net'"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "algorithms": [{"algorithm": "ff", "options": {"lrr": 1}}]})")),
                    Catch::Contains("unknown option 'lrr'"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "batch": -4, "algorithms": [{"algorithm": "bp"}]})")),
                    Catch::Contains("experiments[0].batch' must be >= 1"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "hidden": [500, "wide"], "algorithms": [{"algorithm": "bp"}]})")),
                    Catch::Contains("experiments[0].hidden[1]' must be a whole number"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "sweep": {"height": [1]}, "algorithms": [{"algorithm": "bp"}]})")),
                    Catch::Contains("allowed here: batch, depth, threads, width"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "algorithms": [{"algorithm": "bp"}, {"algorithm": "bp"}]})")),
                    Catch::Contains("distinct 'label'"));
  CHECK_THROWS_WITH(load_suite("/nonexistent/suite.json", &everything_available), Catch::Contains("cannot read suite file"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "eval_every": 0, "algorithms": [{"algorithm": "bp"}]})")),
                    Catch::Contains("experiments[0].eval_every' must be >= 1"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "standardize": "yes", "algorithms": [{"algorithm": "bp"}]})")),
                    Catch::Contains("experiments[0].standardize' must be true or false"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "diagnostics": 1, "algorithms": [{"algorithm": "bp"}]})")),
                    Catch::Contains("experiments[0].diagnostics' must be true or false"));
}

TEST_CASE("training: eval_every evaluates and records every N-th epoch and the last", "[suite]") {
  TrainConfig config;
  config.algorithm = "bp";
  config.dataset.synthetic_d = 64;
  config.dataset.synthetic_train = 200;
  config.dataset.synthetic_test = 50;
  config.hidden = {16};
  config.batch = 50;
  config.epochs = 7;
  config.eval_every = 3;
  const auto data = data::load(config.dataset);
  auto algorithm = create_algorithm("bp", {});
  const auto result = train(*algorithm, config, data);
  REQUIRE(result.epochs.size() == 3);
  CHECK(result.epochs[0].epoch == 3);
  CHECK(result.epochs[1].epoch == 6);
  CHECK(result.epochs[2].epoch == 7);
  CHECK(result.epochs[2].test_accuracy.size() == 1);
  CHECK(result.epochs[2].train_seconds > result.epochs[0].train_seconds);
  config.eval_every = 0;
  auto again = create_algorithm("bp", {});
  CHECK_THROWS_WITH(train(*again, config, data), Catch::Contains("eval_every must be at least 1"));
}

TEST_CASE("suite: eval_every and standardize reach the point file", "[suite]") {
  const auto suite = parse(with_experiment(R"({"name": "x", "eval_every": 5, "standardize": true, "epochs": 12,
      "algorithms": [{"algorithm": "bp"}]})"));
  const auto again = SuitePoint::from_json(suite.points.at(0).to_json());
  CHECK(again.eval_every == 5);
  CHECK(again.standardize);
  // Point files written before these fields existed still load, with the old behaviour.
  auto old = suite.points.at(0).to_json();
  old.erase("eval_every");
  old.erase("standardize");
  CHECK(SuitePoint::from_json(old).eval_every == 1);
  CHECK_FALSE(SuitePoint::from_json(old).standardize);
}

TEST_CASE("suite: an unfetched dataset falls back, and says so in the resolved name", "[suite]") {
  const auto suite = parse_suite(R"({"dataset": "mnist", "fallback_dataset": "synthetic",
      "experiments": [{"name": "x", "algorithms": [{"algorithm": "bp"}]}]})", "t.json", &only_synthetic);
  CHECK(suite.dataset == "mnist");
  CHECK(suite.resolved_dataset == "synthetic");
  CHECK(suite.points[0].dataset == "synthetic");
}

TEST_CASE("suite: the shipped suites parse", "[suite]") {
  for (const char* name : {"quick", "ci", "full"}) {
    INFO(name);
    const auto path = resolve_suite_path(name, FFB_SOURCE_DIR);
    const auto suite = load_suite(path, &only_synthetic);
    CHECK(!suite.points.empty());
  }
}

TEST_CASE("atomic writes replace a file whole and leave no temporary behind", "[suite]") {
  const auto dir = std::filesystem::temp_directory_path() / "ffbench_atomic_test";
  std::filesystem::create_directories(dir);
  const auto path = (dir / "result.json").string();
  write_atomic(path, "first");
  write_atomic(path, "second version");
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == "second version");
  CHECK(!std::filesystem::exists(path + ".tmp"));
  CHECK_THROWS_WITH(write_atomic((dir / "no" / "such" / "dir.json").string(), "x"), Catch::Contains("cannot write"));
  std::filesystem::remove_all(dir);
}
