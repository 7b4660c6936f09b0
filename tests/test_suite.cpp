// Suite files: each malformed file gets an error naming the field and what is allowed; expansion of
// sweep axes; the shipped suites parse; atomic writes leave no partial file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "algorithms/registry.hpp"
#include "algorithms/backend/engine.hpp"
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
  // These need MNIST (no synthetic fallback): parsed as if every dataset were fetched.
  for (const char* name : {"reference", "tune", "reproduce"}) {
    INFO(name);
    const auto suite = load_suite(resolve_suite_path(name, FFB_SOURCE_DIR), &everything_available);
    CHECK(!suite.points.empty());
  }
}

TEST_CASE("suite: reproduce runs reference.json's experiment, with a validation split and 3 seeds", "[suite]") {
  const auto reference = load_suite(resolve_suite_path("reference", FFB_SOURCE_DIR), &everything_available);
  const auto reproduce = load_suite(resolve_suite_path("reproduce", FFB_SOURCE_DIR), &everything_available);
  const SuitePoint* original = nullptr;
  for (const auto& p : reference.points)
    if (p.engine == "ffbench") original = &p;
  REQUIRE(original != nullptr);
  int copies = 0;
  for (const auto& p : reproduce.points) {
    if (p.experiment != "reference") continue;
    ++copies;
    CHECK(p.options == original->options);
    CHECK(p.hidden == original->hidden);
    CHECK(p.batch == original->batch);
    CHECK(p.epochs == original->epochs);
    CHECK(p.eval_every == original->eval_every);
    CHECK(p.standardize == original->standardize);
    CHECK(p.validation == 10000);  // 50,000 train: reference.json's limit_train of 50,000, the same first samples
    CHECK(p.dataset == "mnist");
    REQUIRE(p.published.is_array());
    CHECK(p.published[0]["test_error"] == 0.0684);
  }
  CHECK(copies == 3);
  int fashion = 0;
  for (const auto& p : reproduce.points) fashion += p.dataset == "fashion";
  CHECK(fashion == 15);
}

TEST_CASE("suite: validation, dataset and published reach the point file, and published figures are checked", "[suite]") {
  const auto suite = parse(with_experiment(R"({"name": "x", "validation": 300, "dataset": "mnist",
      "published": {"test_error": 0.0144, "band": 0.016, "source": "matlab", "mode": "softmax"},
      "algorithms": [{"algorithm": "ff"}]})"));
  const auto again = SuitePoint::from_json(suite.points.at(0).to_json());
  CHECK(again.validation == 300);
  CHECK(again.dataset == "mnist");
  REQUIRE(again.published.is_array());
  CHECK(again.published[0]["band"] == 0.016);
  auto old = suite.points.at(0).to_json();
  old.erase("validation");
  old.erase("published");
  CHECK(SuitePoint::from_json(old).validation == 0);
  CHECK(SuitePoint::from_json(old).published.is_null());
  // An experiment's dataset falls back like the suite's.
  const auto fallback = parse_suite(R"({"dataset": "synthetic", "fallback_dataset": "synthetic", "experiments":
      [{"name": "x", "dataset": "fashion", "algorithms": [{"algorithm": "bp"}]}]})", "t.json", &only_synthetic);
  CHECK(fallback.points[0].dataset == "synthetic");
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "validation": -1, "algorithms": [{"algorithm": "bp"}]})")),
                    Catch::Contains("experiments[0].validation' must be >= 0"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "published": {"test_error": 0.014}, "algorithms": [{"algorithm": "bp"}]})")),
                    Catch::Contains("needs test_error"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "published": {"test_error": 1.4, "band": 1.5, "source": "s"},
      "algorithms": [{"algorithm": "bp"}]})")), Catch::Contains("fractions in [0, 1]"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "published": {"test_error": 0.014, "band": 0.01, "source": "s"},
      "algorithms": [{"algorithm": "bp"}]})")), Catch::Contains("below the published test error"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "published": [{"test_error": 0.014, "band": 0.015, "source": "s",
      "mode": "goodness"}], "algorithms": [{"algorithm": "bp"}]})")), Catch::Contains("published[0].mode' is 'goodness'"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "published": {"test_error": 0.014, "band": 0.015, "source": "s",
      "year": 2022}, "algorithms": [{"algorithm": "bp"}]})")), Catch::Contains("published.year' is not a known field"));
}

namespace {
const char* kTune = R"({"name": "t", "measure": "tune", "validation": 100, "epochs": 8, "seeds": [3],
    "tune": {"trials": 5, "eta": 2, "rungs": 3},
    "algorithms": [{"algorithm": "ff", "options": {"momentum": 0.5},
                    "search": {"lr": {"log_uniform": [0.0001, 0.1]}, "negatives": {"choice": ["uniform", "hard"]},
                               "threshold": {"uniform": [0.5, 2.0]}, "layer_epochs": {"int_uniform": [1, 3]}}}]})";
}

TEST_CASE("suite: a tune experiment expands into rungs of successive halving with drawn configurations", "[suite][tune]") {
  const auto suite = parse(with_experiment(kTune));
  // 5 trials at 2 epochs, the best 3 at 4, the best 2 at 8.
  REQUIRE(suite.points.size() == 5 + 3 + 2);
  std::vector<int64_t> epochs;
  for (const auto& p : suite.points) {
    CHECK(p.measure == "tune");
    CHECK(p.validation == 100);
    CHECK(p.seed == 3);
    epochs.push_back(p.epochs);
  }
  CHECK(epochs == std::vector<int64_t>{2, 2, 2, 2, 2, 4, 4, 4, 8, 8});
  std::set<std::string> negatives;
  for (int t = 0; t < 5; ++t) {
    const auto& p = suite.points[static_cast<size_t>(t)];
    CHECK(p.id == "t.ff.r0-trial" + std::to_string(t) + ".d2-w500-b128-s3");
    CHECK(p.tune["trial"] == t);
    const auto& config = p.tune["config"];
    CHECK(p.options["lr"] == config["lr"]);
    CHECK(p.options["momentum"] == 0.5);  // the entry's own options stay
    CHECK(config["lr"].get<double>() >= 0.0001);
    CHECK(config["lr"].get<double>() <= 0.1);
    CHECK(config["threshold"].get<double>() >= 0.5);
    CHECK(config["threshold"].get<double>() <= 2.0);
    CHECK(config["layer_epochs"].is_number_integer());
    negatives.insert(config["negatives"].get<std::string>());
  }
  CHECK(negatives.size() == 2);
  CHECK(suite.points[5].id == "t.ff.r1-rank0.d2-w500-b128-s3");
  CHECK(suite.points[5].tune["trial"].is_null());
  CHECK(suite.points[9].tune["rung"] == 2);
  // The same file draws the same configurations (resume re-expands the suite from its copy).
  CHECK(parse(with_experiment(kTune)).points[3].options == suite.points[3].options);
  // The point file keeps the tune fields.
  CHECK(SuitePoint::from_json(suite.points[2].to_json()).tune == suite.points[2].tune);
}

TEST_CASE("suite: a tune point above rung 0 takes the rung below's best, once it has finished", "[suite][tune]") {
  const auto suite = parse(with_experiment(kTune));
  std::map<std::string, nlohmann::json> results;
  auto result_of = [&](const std::string& id) { return results.count(id) ? results[id] : nlohmann::json(); };
  auto finish = [&](const SuitePoint& p, double goodness, double softmax, const std::string& status = "ok") {
    results[p.id] = {{"status", status}, {"point", p.to_json()},
                     {"epochs", {{{"epoch", p.epochs}, {"validation_accuracy", {{"goodness", goodness}, {"softmax", softmax}}}}}}};
  };
  SuitePoint rank1 = suite.points[6];
  std::string why;
  CHECK_FALSE(resolve_tune_point(rank1, suite.points, result_of, why));
  CHECK_THAT(why, Catch::Contains("rung 0"));
  finish(suite.points[0], 0.50, 0.60);
  finish(suite.points[1], 0.90, 0.10);  // scored by its best mode: 0.90
  finish(suite.points[2], 0.70, 0.20);
  finish(suite.points[3], 0.95, 0.95, "diverged");  // a diverged trial never goes on
  finish(suite.points[4], 0.70, 0.30);  // ties trial 2: the lower trial ranks first
  CHECK(tune_score(results[suite.points[1].id]) == 0.90);
  CHECK(tune_score(results[suite.points[3].id]) == -1.0);
  REQUIRE(resolve_tune_point(rank1, suite.points, result_of, why));
  CHECK(rank1.tune["trial"] == 2);
  CHECK(rank1.tune["promoted_from"] == suite.points[2].id);
  CHECK(rank1.options == suite.points[2].options);
  SuitePoint rank2 = suite.points[7];
  REQUIRE(resolve_tune_point(rank2, suite.points, result_of, why));
  CHECK(rank2.tune["trial"] == 4);
  // Rung 2 ranks rung 1's results, which carry the trial they resolved to.
  for (size_t i = 5; i < 8; ++i) {
    SuitePoint p = suite.points[i];
    REQUIRE(resolve_tune_point(p, suite.points, result_of, why));
    finish(p, i == 7 ? 0.99 : 0.80, 0.0);
  }
  SuitePoint top = suite.points[8];
  REQUIRE(resolve_tune_point(top, suite.points, result_of, why));
  CHECK(top.tune["trial"] == 4);
  CHECK(top.epochs == 8);
}

TEST_CASE("suite: malformed tune experiments get errors naming the field", "[suite][tune]") {
  auto tune = [](const std::string& fields, const std::string& search = R"({"lr": {"log_uniform": [0.001, 0.1]}})") {
    return with_experiment(R"({"name": "t", "measure": "tune", "epochs": 4, "algorithms": [{"algorithm": "ff", "search": )" +
                           search + "}]" + fields + "}");
  };
  CHECK_THROWS_WITH(parse(tune("")), Catch::Contains("experiments[0].validation' must be > 0 with measure 'tune'"));
  CHECK_THROWS_WITH(parse(tune(R"(, "validation": 10, "seeds": [1, 2])")), Catch::Contains("one seed"));
  CHECK_THROWS_WITH(parse(tune(R"(, "validation": 10)", R"({"lr": {"normal": [0, 1]}})")),
                    Catch::Contains("search.lr.normal' is not a known distribution"));
  CHECK_THROWS_WITH(parse(tune(R"(, "validation": 10)", R"({"lr": {"log_uniform": [0, 1]}})")), Catch::Contains("needs lo > 0"));
  CHECK_THROWS_WITH(parse(tune(R"(, "validation": 10)", R"({"lrr": {"choice": [1]}})")), Catch::Contains("unknown option 'lrr'"));
  CHECK_THROWS_WITH(parse(tune(R"(, "validation": 10)", R"({"lr": {"uniform": [-1, 0]}})")), Catch::Contains("must be >"));
  CHECK_THROWS_WITH(parse(tune(R"(, "validation": 10)", "{}")), Catch::Contains("search' is required"));
  CHECK_THROWS_WITH(parse(tune(R"(, "validation": 10, "tune": {"rungs": 4})")), Catch::Contains("each rung must train longer"));
  CHECK_THROWS_WITH(parse(tune(R"(, "validation": 10, "tune": {"trials": 1, "rungs": 2})")), Catch::Contains("nothing to drop"));
  CHECK_THROWS_WITH(parse(tune(R"(, "validation": 10, "tune": {"halving": 2})")), Catch::Contains("tune.halving' is not a known field"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "tune": {}, "algorithms": [{"algorithm": "bp"}]})")),
                    Catch::Contains("only for measure 'tune'"));
  CHECK_THROWS_WITH(parse(with_experiment(R"({"name": "x", "algorithms": [{"algorithm": "bp", "search": {}}]})")),
                    Catch::Contains("search' is only for measure 'tune'"));
}

TEST_CASE("training: with a validation split, every evaluation is on it and the test split is seen once", "[suite]") {
  TrainConfig config;
  config.dataset.synthetic_d = 64;
  config.dataset.synthetic_train = 400;
  config.dataset.synthetic_test = 50;
  config.dataset.validation = 100;
  config.hidden = {16};
  config.batch = 50;
  config.epochs = 4;
  config.collapse_evaluations = 0;  // this tiny run may sit near chance; it is about which split is evaluated when
  const auto data = data::load(config.dataset);
  REQUIRE(data.validation.n == 100);
  REQUIRE(data.train.n == 300);
  auto algorithm = create_algorithm("ff", {});
  const auto result = train(*algorithm, config, data);
  CHECK(result.selection == "validation");
  CHECK(result.validation_samples == 100);
  REQUIRE(result.epochs.size() == 4);
  for (const auto& e : result.epochs) {
    CHECK(e.validation_accuracy.size() == 2);
    CHECK(e.test_accuracy.size() == (e.epoch == 4 ? 2u : 0u));
  }
  REQUIRE(result.best_epoch.size() == 2);
  for (size_t m = 0; m < 2; ++m) {
    double best = 0.0;
    for (const auto& e : result.epochs) best = std::max(best, e.validation_accuracy[m]);
    CHECK(result.best_validation_accuracy[m] == best);
    CHECK(result.epochs[static_cast<size_t>(result.best_epoch[m] - 1)].validation_accuracy[m] == best);
  }
  // Without one: today's behaviour, the test split after every epoch.
  config.dataset.validation = 0;
  const auto plain = data::load(config.dataset);
  auto again = create_algorithm("ff", {});
  const auto tested = train(*again, config, plain);
  CHECK(tested.selection == "none (test every epoch)");
  CHECK(tested.best_epoch.empty());
  for (const auto& e : tested.epochs) {
    CHECK(e.test_accuracy.size() == 2);
    CHECK(e.validation_accuracy.empty());
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

TEST_CASE("point: scope 'train' times the training windows and the plain GEMM rate only", "[suite]") {
  const auto suite = parse(with_experiment(R"({"name": "x", "measure": "throughput", "hidden": [32],
      "batch": 16, "steps": 2, "warmup": 1, "repeats": 2, "algorithms": [{"algorithm": "ff"}]})"));
  SuitePoint point = suite.points.at(0);
  CHECK(point.scope == "all");
  CHECK_FALSE(point.to_json().contains("scope"));  // files of revisions without the field stay the same
  point.scope = "train";
  const auto again = SuitePoint::from_json(point.to_json());
  REQUIRE(again.scope == "train");
  const auto result = run_point(again, nullptr);
  REQUIRE(result.at("status") == "ok");
  CHECK(result.at("train").at("samples_per_s").size() == 2);
  CHECK(result.at("roofline").at("plain_gflops").get<double>() > 0.0);
  CHECK(result.at("roofline").at("shapes").at(0).at("blocked_gflops").get<double>() == 0.0);
  CHECK_FALSE(result.contains("inference"));
  CHECK_FALSE(result.contains("peak_fma"));
  CHECK_FALSE(result.contains("memory_bandwidth"));
  auto bad = point.to_json();
  bad["scope"] = "most";
  CHECK_THROWS_WITH(SuitePoint::from_json(bad), Catch::Contains("scope 'most'"));
}

TEST_CASE("point: the step's parts sum to the step and hold its products", "[suite]") {
  for (const std::string algorithm : {"bp", "ff"}) {
    INFO(algorithm);
    const auto suite = parse(with_experiment(R"({"name": "x", "measure": "throughput", "hidden": [32, 32],
        "batch": 16, "steps": 3, "warmup": 1, "repeats": 2, "algorithms": [{"algorithm": ")" + algorithm + R"("}]})"));
    const auto result = run_point(suite.points.at(0), nullptr);
    REQUIRE(result.at("status") == "ok");
    const auto& parts = result.at("step_parts");
    const double step = parts.at("step_us").get<double>(), summed = parts.at("summed_us_per_step").get<double>();
    double total = 0.0, products = 0.0;
    for (const auto& part : parts.at("parts")) {
      const auto name = part.at("part").get<std::string>();
      const double us = part.at("us_per_step").get<double>();
      CHECK(us > 0.0);
      total += us;
      // bp's product parts hold every product; ff's neutral pass and classifier hold products too.
      if (name.find("products") != std::string::npos || name.find("neutral") != std::string::npos ||
          name.find("classifier") != std::string::npos)
        products += us;
    }
    CHECK(total == Approx(summed).epsilon(1e-9));
    // The laps run from the step's start to its last part: all of the step but the loop around it.
    CHECK(summed <= step);
    CHECK(summed >= 0.5 * step);
    // Every GEMM runs inside a part that names products (its clock reads are inside the laps').
    const double gemm = result.at("step_profile").at("gemm_time_share").get<double>() * step;
    CHECK(gemm > 0.0);
    CHECK(products >= gemm * (1.0 - 1e-9));
    // On more than one thread, the machine's cost of rewriting shared data after each window.
    if (ffb::threads() > 1) {
      const auto& shared = result.at("train").at("shared_write");
      REQUIRE(shared.at("ratios").size() == 2);
      for (const auto& ratio : shared.at("ratios")) CHECK(ratio.get<double>() > 0.0);
    } else {
      CHECK_FALSE(result.at("train").contains("shared_write"));
    }
    // The memory roof beside the parts, on the point's threads, over arrays past the last-level cache.
    const auto& roof = result.at("memory_bandwidth");
    CHECK(roof.at("gbps").get<double>() > 0.0);
    CHECK(roof.at("threads").get<int>() == ffb::threads());
    CHECK(roof.at("bytes_per_pass").get<int64_t>() >= 28 * (int64_t{64} << 20) / 16);
    CHECK(roof.at("bytes_per_pass").get<int64_t>() >= 28 * 8 * roof.at("last_level_cache_bytes").get<int64_t>() / 16);
  }
  // The names are the algorithm's own, in step order.
  const auto suite = parse(with_experiment(R"({"name": "x", "measure": "throughput", "hidden": [32, 32],
      "batch": 16, "steps": 2, "warmup": 1, "repeats": 1, "algorithms": [{"algorithm": "bp"}]})"));
  const auto result = run_point(suite.points.at(0), nullptr);
  const auto& parts = result.at("step_parts").at("parts");
  REQUIRE(parts.size() >= 5);
  CHECK(parts[0].at("part").get<std::string>().rfind("forward products", 0) == 0);
  CHECK(parts.back().at("part").get<std::string>() == "update");
}

TEST_CASE("point: the step profile splits the windows' time into GEMMs and the rest, per shape", "[suite]") {
  const auto suite = parse(with_experiment(R"({"name": "x", "measure": "throughput", "hidden": [32, 32],
      "batch": 16, "steps": 3, "warmup": 1, "repeats": 2, "algorithms": [{"algorithm": "bp"}]})"));
  const auto result = run_point(suite.points.at(0), nullptr);
  REQUIRE(result.at("status") == "ok");
  const auto& profile = result.at("step_profile");
  const double share = profile.at("gemm_time_share").get<double>();
  CHECK(share > 0.0);
  CHECK(share <= 1.0);  // bp calls its matmuls from one thread: their time is part of the wall time
  CHECK(profile.at("gemm_gflops_in_step").get<double>() > 0.0);
  // The shapes' shares add up to the total share, and each names a shape the roofline timed.
  double shares = 0.0;
  for (const auto& s : profile.at("shapes")) {
    shares += s.at("time_share").get<double>();
    CHECK(s.at("ceiling_gflops").get<double>() > 0.0);
    CHECK(s.at("ceiling_median_gflops").get<double>() > 0.0);
    CHECK(s.at("ceiling_median_gflops").get<double>() <= s.at("ceiling_gflops").get<double>());
  }
  CHECK(shares == Approx(share).epsilon(1e-9));
  // bp runs forward, weight-gradient and input-gradient products: at least 3 distinct shapes.
  CHECK(profile.at("shapes").size() >= 3);
  CHECK(result.at("inference").at("softmax").at("profile").at("gemm_time_share").get<double>() > 0.0);
  // The GEMMs in the step against the same shapes alone (the rounds' median rates): per shape, and
  // over the step, the time the shapes' FLOPs take alone over the time they took in the step.
  double alone_time = 0.0, step_time = 0.0;
  for (const auto& s : profile.at("shapes")) {
    REQUIRE(s.contains("alone_gflops"));
    CHECK(s.at("alone_gflops").get<double>() > 0.0);
    alone_time += s.at("time_share").get<double>() * s.at("gflops_in_step").get<double>() / s.at("alone_gflops").get<double>();
    step_time += s.at("time_share").get<double>();
  }
  CHECK(profile.at("gemm_rate_vs_alone").get<double>() == Approx(alone_time / step_time).epsilon(1e-9));
  // The drift check: one ceiling round per timed window, each window's rate over its round.
  const auto& flops = result.at("flops_per_sample");
  const std::pair<const nlohmann::json*, double> measured_with_flops[] = {
      {&result.at("train"), flops.at("train").get<double>()},
      {&result.at("inference").at("softmax"), flops.at("inference").at("softmax").get<double>()}};
  for (const auto& [measured, flops_per_sample] : measured_with_flops) {
    const auto& paired = measured->at("paired");
    REQUIRE(paired.at("fractions").size() == 2);
    REQUIRE(paired.at("ceiling_gflops").size() == 2);
    const auto& rates = measured->at("samples_per_s");
    for (size_t r = 0; r < 2; ++r) {
      const double round = paired.at("ceiling_gflops")[r].get<double>();
      CHECK(round > 0.0);
      CHECK(paired.at("fractions")[r].get<double>() == Approx(rates[r].get<double>() * flops_per_sample * 1e-9 / round).epsilon(1e-12));
    }
    const double a = paired.at("fractions")[0].get<double>(), b = paired.at("fractions")[1].get<double>();
    CHECK(paired.at("roofline_fraction").get<double>() == Approx(0.5 * (a + b)).epsilon(1e-12));
  }
}
