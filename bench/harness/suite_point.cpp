// Suite points as JSON (the point files `ffbench run` writes and `ffbench point` reads) and the
// successive-halving rungs of measure "tune": see suite.hpp.
#include "bench/harness/point_status.hpp"
#include "bench/harness/suite.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "algorithms/algorithm.hpp"
#include "common/rng.hpp"
#include "datasets/dataset.hpp"

namespace ffb {

nlohmann::json SuitePoint::to_json() const {
  nlohmann::json j = {{"id", id}, {"experiment", experiment}, {"measure", measure}, {"label", label}, {"algorithm", algorithm},
          {"engine", engine}, {"options", options}, {"dataset", dataset}, {"limit_train", limit_train},
          {"limit_test", limit_test}, {"hidden", hidden}, {"batch", batch}, {"epochs", epochs},
          {"eval_every", eval_every}, {"standardize", standardize}, {"time_budget_s", time_budget_seconds}, {"steps", steps}, {"warmup", warmup}, {"repeats", repeats},
          {"seed", seed}, {"threads", threads}, {"targets", targets}, {"diagnostics", diagnostics},
          {"denormals", denormals}, {"trained_epochs", trained_epochs}, {"validation", validation}};
  if (scope != "all") j["scope"] = scope;
  if (distributed != "none") j["distributed"] = distributed, j["ranks"] = ranks;
  if (!link.empty()) j["link"] = link;
  if (!published.is_null()) j["published"] = published;
  if (!tune.is_null()) j["tune"] = tune;
  return j;
}

SuitePoint SuitePoint::from_json(const nlohmann::json& j) {
  SuitePoint p;
  p.id = j.at("id");
  p.experiment = j.at("experiment");
  p.measure = j.at("measure");
  p.label = j.at("label");
  p.algorithm = j.at("algorithm");
  p.engine = j.value("engine", "ffbench");
  p.options = j.at("options");
  p.dataset = j.at("dataset");
  p.limit_train = j.at("limit_train");
  p.limit_test = j.at("limit_test");
  p.hidden = j.at("hidden").get<std::vector<int64_t>>();
  p.batch = j.at("batch");
  p.epochs = j.at("epochs");
  p.eval_every = j.value("eval_every", static_cast<int64_t>(1));
  p.standardize = j.value("standardize", false);
  p.time_budget_seconds = j.at("time_budget_s");
  p.steps = j.at("steps");
  p.warmup = j.at("warmup");
  p.repeats = j.at("repeats");
  p.seed = j.at("seed");
  p.threads = j.at("threads");
  p.targets = j.at("targets").get<std::vector<double>>();
  p.diagnostics = j.at("diagnostics");
  p.denormals = j.value("denormals", std::string("flush"));
  p.trained_epochs = j.value("trained_epochs", static_cast<int64_t>(0));
  p.validation = j.value("validation", static_cast<int64_t>(0));
  p.scope = j.value("scope", std::string("all"));
  p.distributed = j.value("distributed", std::string("none"));
  p.ranks = j.value("ranks", 1);
  p.link = j.value("link", std::string());
  if (p.scope != "all" && p.scope != "train" && p.scope != "steps")
    throw std::runtime_error(fmt::format("point {}: scope '{}' is not 'all', 'train' or 'steps'", p.id, p.scope));
  if (j.contains("published")) p.published = j.at("published");
  if (j.contains("tune")) p.tune = j.at("tune");
  return p;
}

double tune_score(const nlohmann::json& result) {
  const auto status = point_status_from(result.value("status", std::string()));
  if ((status != PointStatus::ok && status != PointStatus::collapsed) || !result.contains("epochs") || result["epochs"].empty()) return -1.0;
  const auto& last = result["epochs"].back();
  if (!last.contains("validation_accuracy")) return -1.0;
  double best = -1.0;
  for (const auto& [mode, accuracy] : last["validation_accuracy"].items()) best = std::max(best, accuracy.get<double>());
  return best;
}

bool resolve_tune_point(SuitePoint& point, const std::vector<SuitePoint>& all,
                        const std::function<nlohmann::json(const std::string& id)>& result_of, std::string& why) {
  if (point.measure != "tune" || point.tune.is_null() || point.tune.value("rung", 0) == 0) return true;
  const int64_t rung = point.tune["rung"];
  struct Entry {
    double score;
    int64_t trial;
    nlohmann::json config;
    std::string id;
  };
  std::vector<Entry> below;
  for (const auto& other : all) {
    if (other.experiment != point.experiment || other.label != point.label || other.measure != "tune" ||
        other.tune.value("rung", int64_t{-1}) != rung - 1)
      continue;
    const auto result = result_of(other.id);
    if (result.is_null()) {
      why = fmt::format("rung {} needs every trial of rung {} finished first ({} is not)", rung, rung - 1, other.id);
      return false;
    }
    const auto& tune = result.at("point").at("tune");
    below.push_back({tune_score(result), tune.at("trial").get<int64_t>(), tune.at("config"), other.id});
  }
  std::stable_sort(below.begin(), below.end(), [](const Entry& x, const Entry& y) {
    return x.score != y.score ? x.score > y.score : x.trial < y.trial;
  });
  const int64_t rank = point.tune.at("rank");
  if (rank >= static_cast<int64_t>(below.size())) {
    why = fmt::format("rank {} of rung {}, but rung {} has only {} trials", rank, rung, rung - 1, below.size());
    return false;
  }
  const auto& chosen = below[static_cast<size_t>(rank)];
  point.tune["trial"] = chosen.trial;
  point.tune["config"] = chosen.config;
  point.tune["promoted_from"] = chosen.id;
  point.tune["promoted_score"] = chosen.score;
  for (const auto& [name, value] : chosen.config.items()) point.options[name] = value;
  return true;
}

}  // namespace ffb
