// See suite.hpp and bench/suites/README.md.
#include "bench/harness/suite.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "algorithms/algorithm.hpp"

namespace ffb {

namespace {

struct SuiteError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

class Fields {
 public:
  Fields(const nlohmann::json& object, std::string where, std::string origin, std::set<std::string> allowed)
      : object_(object), where_(std::move(where)), origin_(std::move(origin)), allowed_(std::move(allowed)) {
    if (!object_.is_object()) fail(where_, "must be a JSON object");
    for (const auto& [key, value] : object_.items()) {
      (void)value;
      if (!allowed_.count(key)) {
        std::string list;
        for (const auto& a : allowed_) list += (list.empty() ? "" : ", ") + a;
        fail(where_ + "." + key, "is not a known field; allowed here: " + list);
      }
    }
  }
  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw SuiteError(fmt::format("{}: field '{}' {}", origin_, field, problem));
  }
  bool has(const std::string& key) const { return object_.contains(key); }
  const nlohmann::json& raw(const std::string& key) const { return object_.at(key); }
  std::string path(const std::string& key) const { return where_ + "." + key; }

  std::string text(const std::string& key, const std::string& fallback, const std::set<std::string>& choices = {}) const {
    if (!has(key)) return fallback;
    const auto& v = object_.at(key);
    if (!v.is_string()) fail(path(key), "must be a string");
    const auto s = v.get<std::string>();
    if (!choices.empty() && !choices.count(s)) {
      std::string list;
      for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
      fail(path(key), fmt::format("is '{}'; allowed: {}", s, list));
    }
    return s;
  }
  bool flag(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = object_.at(key);
    if (!v.is_boolean()) fail(path(key), fmt::format("must be true or false, got {}", v.dump()));
    return v.get<bool>();
  }
  int64_t integer(const std::string& key, int64_t fallback, int64_t min_value) const {
    if (!has(key)) return fallback;
    return checked_integer(object_.at(key), path(key), min_value);
  }
  double number(const std::string& key, double fallback, double min_value) const {
    if (!has(key)) return fallback;
    const auto& v = object_.at(key);
    if (!v.is_number()) fail(path(key), "must be a number");
    const double d = v.get<double>();
    if (d < min_value) fail(path(key), fmt::format("must be >= {}, got {}", min_value, d));
    return d;
  }
  int64_t checked_integer(const nlohmann::json& v, const std::string& field, int64_t min_value) const {
    if (!v.is_number_integer()) fail(field, fmt::format("must be a whole number, got {}", v.dump()));
    const auto i = v.get<int64_t>();
    if (i < min_value) fail(field, fmt::format("must be >= {}, got {}", min_value, i));
    return i;
  }
  std::vector<int64_t> integers(const std::string& key, std::vector<int64_t> fallback, int64_t min_value) const {
    if (!has(key)) return fallback;
    const auto& v = object_.at(key);
    std::vector<int64_t> out;
    if (v.is_number()) {
      out.push_back(checked_integer(v, path(key), min_value));
      return out;
    }
    if (!v.is_array() || v.empty()) fail(path(key), "must be a whole number or a non-empty list of them");
    for (size_t i = 0; i < v.size(); ++i) out.push_back(checked_integer(v[i], fmt::format("{}[{}]", path(key), i), min_value));
    return out;
  }
  std::vector<double> numbers(const std::string& key) const {
    std::vector<double> out;
    if (!has(key)) return out;
    const auto& v = object_.at(key);
    if (!v.is_array()) fail(path(key), "must be a list of numbers");
    for (const auto& item : v) {
      if (!item.is_number()) fail(path(key), "must be a list of numbers");
      out.push_back(item.get<double>());
    }
    return out;
  }

 private:
  const nlohmann::json& object_;
  std::string where_, origin_;
  std::set<std::string> allowed_;
};

std::string safe(const std::string& text) {
  std::string out;
  for (char c : text) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '-';
  return out;
}

}  // namespace

nlohmann::json SuitePoint::to_json() const {
  return {{"id", id}, {"experiment", experiment}, {"measure", measure}, {"label", label}, {"algorithm", algorithm},
          {"engine", engine}, {"options", options}, {"dataset", dataset}, {"limit_train", limit_train},
          {"limit_test", limit_test}, {"hidden", hidden}, {"batch", batch}, {"epochs", epochs},
          {"eval_every", eval_every}, {"standardize", standardize}, {"time_budget_s", time_budget_seconds}, {"steps", steps}, {"warmup", warmup}, {"repeats", repeats},
          {"seed", seed}, {"threads", threads}, {"targets", targets}, {"diagnostics", diagnostics},
          {"denormals", denormals}, {"trained_epochs", trained_epochs}};
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
  return p;
}

Suite parse_suite(const std::string& text, const std::string& origin, bool (*dataset_available)(const std::string&)) {
  Suite suite;
  suite.text = text;
  try {
    suite.verbatim = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw SuiteError(fmt::format("{}: not valid JSON: {}", origin, e.what()));
  }
  const std::set<std::string> datasets = {"synthetic", "mnist", "fashion"};
  Fields top(suite.verbatim, "suite", origin,
             {"schema", "name", "description", "dataset", "fallback_dataset", "limit_train", "limit_test", "defaults",
              "experiments"});
  if (top.integer("schema", 1, 1) != 1) top.fail("suite.schema", "must be 1 (the only version this ffbench reads)");
  suite.name = top.text("name", std::filesystem::path(origin).stem().string());
  suite.description = top.text("description", "");
  suite.dataset = top.text("dataset", "synthetic", datasets);
  const auto fallback = top.text("fallback_dataset", "synthetic", datasets);
  suite.resolved_dataset = dataset_available(suite.dataset) ? suite.dataset : fallback;
  if (!dataset_available(suite.resolved_dataset))
    top.fail("suite.dataset", fmt::format("names '{}', which is not fetched, and the fallback '{}' is not either: run "
                                          "scripts/fetch_data.sh", suite.dataset, fallback));
  const int64_t limit_train = top.integer("limit_train", 0, 0), limit_test = top.integer("limit_test", 0, 0);
  const nlohmann::json defaults = top.has("defaults") ? top.raw("defaults") : nlohmann::json::object();
  if (!top.has("experiments") || !top.raw("experiments").is_array() || top.raw("experiments").empty())
    top.fail("suite.experiments", "must be a non-empty list of experiments");

  const std::set<std::string> experiment_fields = {
      "name", "measure", "algorithms", "hidden", "batch", "epochs", "time_budget_s", "seeds", "threads", "targets",
      "steps", "warmup", "repeats", "sweep", "diagnostics", "limit_train", "limit_test", "eval_every", "standardize",
      "denormals", "trained_epochs"};
  Fields defaults_fields(defaults, "suite.defaults", origin, experiment_fields);
  std::set<std::string> ids;
  const auto& experiments = top.raw("experiments");
  for (size_t e = 0; e < experiments.size(); ++e) {
    nlohmann::json merged = defaults;
    const std::string where = fmt::format("experiments[{}]", e);
    if (!experiments[e].is_object()) top.fail(where, "must be a JSON object");
    for (const auto& [key, value] : experiments[e].items()) merged[key] = value;
    Fields f(merged, where, origin, experiment_fields);
    if (!f.has("name")) f.fail(where + ".name", "is required (a short name for the experiment)");
    const auto experiment = f.text("name", "");
    const auto measure = f.text("measure", "convergence", {"convergence", "throughput"});
    const auto hidden = f.integers("hidden", {500, 500}, 1);
    const auto batches = f.integers("batch", {128}, 1);
    const auto seeds = f.integers("seeds", {1}, 0);
    const auto threads = f.integers("threads", {2}, 1);
    std::vector<std::vector<int64_t>> layer_sets = {hidden};
    std::vector<int64_t> batch_values = batches, thread_values = threads;
    if (f.has("sweep")) {
      Fields sweep(f.raw("sweep"), where + ".sweep", origin, {"depth", "width", "threads", "batch"});
      const auto depths = sweep.integers("depth", {static_cast<int64_t>(hidden.size())}, 1);
      const auto widths = sweep.integers("width", {hidden.front()}, 1);
      const bool sweeps_shape = sweep.has("depth") || sweep.has("width");
      if (sweeps_shape) {
        layer_sets.clear();
        for (auto depth : depths)
          for (auto width : widths) layer_sets.push_back(std::vector<int64_t>(static_cast<size_t>(depth), width));
      }
      if (sweep.has("threads")) thread_values = sweep.integers("threads", {}, 1);
      if (sweep.has("batch")) batch_values = sweep.integers("batch", {}, 1);
    }
    if (!f.has("algorithms") || !f.raw("algorithms").is_array() || f.raw("algorithms").empty())
      f.fail(where + ".algorithms", "must be a non-empty list like [{\"algorithm\": \"ff\", \"options\": {}}]");
    const auto& algorithms = f.raw("algorithms");
    for (size_t a = 0; a < algorithms.size(); ++a) {
      const std::string awhere = fmt::format("{}.algorithms[{}]", where, a);
      Fields af(algorithms[a], awhere, origin, {"algorithm", "options", "label", "engine", "seeds"});
      if (!af.has("algorithm")) af.fail(awhere + ".algorithm", "is required");
      const auto algorithm = af.text("algorithm", "");
      const auto engine = af.text("engine", "ffbench", {"ffbench", "torch"});
      nlohmann::json options = af.has("options") ? af.raw("options") : nlohmann::json::object();
      if (engine == "ffbench") {
        try {
          create_algorithm(algorithm, options);  // validates name and options now, not hours later
        } catch (const std::exception& ex) {
          af.fail(awhere, ex.what());
        }
      }
      const auto label = af.text("label", engine == "torch" ? "torch-" + algorithm : algorithm);
      for (const auto& layers : layer_sets)
        for (auto batch : batch_values)
          for (auto thread_count : thread_values)
            for (auto seed : af.has("seeds") ? af.integers("seeds", {}, 0) : seeds) {
              SuitePoint p;
              p.experiment = experiment;
              p.measure = measure;
              p.label = label;
              p.algorithm = algorithm;
              p.engine = engine;
              p.options = options;
              p.dataset = suite.resolved_dataset;
              p.limit_train = f.integer("limit_train", limit_train, 0);
              p.limit_test = f.integer("limit_test", limit_test, 0);
              p.hidden = layers;
              p.batch = batch;
              p.epochs = f.integer("epochs", 1, 1);
              p.eval_every = f.integer("eval_every", 1, 1);
              p.standardize = f.flag("standardize", false);
              p.time_budget_seconds = f.number("time_budget_s", 0.0, 0.0);
              p.steps = f.integer("steps", 20, 1);
              p.warmup = f.integer("warmup", 3, 0);
              p.repeats = f.integer("repeats", 5, 1);
              p.seed = static_cast<uint64_t>(seed);
              p.threads = static_cast<int>(thread_count);
              p.targets = f.numbers("targets");
              p.diagnostics = f.flag("diagnostics", false);
              p.denormals = f.text("denormals", "flush", {"flush", "keep"});
              p.trained_epochs = f.integer("trained_epochs", 0, 0);
              p.id = safe(fmt::format("{}.{}.d{}-w{}-b{}-t{}-s{}", experiment, label, layers.size(), layers.front(),
                                      batch, thread_count, seed));
              if (!ids.insert(p.id).second)
                f.fail(where, fmt::format("expands to the point '{}' twice: give each algorithm entry a distinct "
                                          "'label'", p.id));
              suite.points.push_back(std::move(p));
            }
    }
  }
  return suite;
}

Suite load_suite(const std::string& path, bool (*dataset_available)(const std::string&)) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SuiteError(fmt::format("cannot read suite file '{}': check the path (suites live in bench/suites/)", path));
  std::stringstream text;
  text << in.rdbuf();
  return parse_suite(text.str(), path, dataset_available);
}

std::string resolve_suite_path(const std::string& name_or_path, const std::string& source_dir) {
  if (std::filesystem::exists(name_or_path)) return name_or_path;
  const auto candidate = std::filesystem::path(source_dir) / "bench" / "suites" / (name_or_path + ".json");
  if (std::filesystem::exists(candidate)) return candidate.string();
  throw SuiteError(fmt::format("no suite '{}': give a path or a name from bench/suites/ (see 'ffbench list')",
                               name_or_path));
}

}  // namespace ffb
