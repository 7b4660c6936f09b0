// See suite.hpp and bench/suites/README.md.
#include "bench/harness/suite.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "algorithms/registry.hpp"
#include "bench/harness/suite_fields.hpp"
#include "common/rng.hpp"
#include "datasets/dataset.hpp"

namespace ffb {

namespace {

using suite_fields::Fields;
using suite_fields::fnv1a;
using suite_fields::links_of;
using suite_fields::parse_published;
using suite_fields::safe;
using suite_fields::sample_dimension;
using suite_fields::SuiteError;

// Successive halving's plan for a tune experiment.
struct TunePlan {
  int64_t trials = 8, eta = 2, rungs = 3;
  uint64_t seed = 1;
  std::vector<int64_t> budgets;  // epochs per rung
  int64_t count(int64_t rung) const {  // trials in a rung: ceil(trials / eta^rung)
    int64_t n = trials;
    for (int64_t r = 0; r < rung; ++r) n = (n + eta - 1) / eta;
    return n;
  }
};

// What a suite's top level gives every experiment.
struct SuiteContext {
  std::string origin;
  bool (*dataset_available)(const std::string&) = nullptr;
  std::set<std::string> datasets;  // the registered names
  std::string fallback;            // the suite's fallback_dataset
  int64_t limit_train = 0, limit_test = 0;
};

// An experiment's fields that hold for every one of its algorithm entries.
struct Experiment {
  std::string where, name, measure, dataset;
  int64_t validation = 0, epochs = 1;
  nlohmann::json published;
  std::vector<int64_t> hidden, batches, seeds, threads;
  std::vector<std::vector<int64_t>> layer_sets;  // the sweep's model shapes (or `hidden` alone)
  std::vector<int64_t> batch_values, thread_values;
  TunePlan plan;  // measure "tune"
};

// One entry of an experiment's `algorithms`.
struct Entry {
  std::string where, algorithm, engine, label, distributed;
  nlohmann::json options;
  std::vector<int64_t> rank_values;
  std::vector<std::string> link_values;
};

// The dataset an experiment asks for, or the suite's fallback when it is not fetched.
std::string experiment_dataset(const Fields& f, const std::string& where, const SuiteContext& context,
                               const std::string& suite_dataset) {
  if (!f.has("dataset")) return suite_dataset;
  const auto asked = f.text("dataset", "", context.datasets);
  const std::string dataset = context.dataset_available(asked) ? asked : context.fallback;
  if (!context.dataset_available(dataset))
    f.fail(where + ".dataset", fmt::format("names '{}', which is not fetched, and the fallback '{}' is not either: "
                                           "run scripts/fetch_data.sh", asked, context.fallback));
  return dataset;
}

// The experiment's `sweep` (depth x width, threads, batch) over its hidden, batch and threads.
void read_sweep(const Fields& f, const std::string& origin, Experiment& x) {
  x.layer_sets = {x.hidden};
  x.batch_values = x.batches;
  x.thread_values = x.threads;
  if (!f.has("sweep")) return;
  Fields sweep(f.raw("sweep"), x.where + ".sweep", origin, {"depth", "width", "threads", "batch"});
  const auto depths = sweep.integers("depth", {static_cast<int64_t>(x.hidden.size())}, 1);
  const auto widths = sweep.integers("width", {x.hidden.front()}, 1);
  const bool sweeps_shape = sweep.has("depth") || sweep.has("width");
  if (sweeps_shape) {
    x.layer_sets.clear();
    for (auto depth : depths)
      for (auto width : widths) x.layer_sets.push_back(std::vector<int64_t>(static_cast<size_t>(depth), width));
  }
  if (sweep.has("threads")) x.thread_values = sweep.integers("threads", {}, 1);
  if (sweep.has("batch")) x.batch_values = sweep.integers("batch", {}, 1);
}

// Successive halving's plan of a tune experiment: its `tune` fields and each rung's epochs.
TunePlan read_tune_plan(const Fields& f, const std::string& origin, const Experiment& x) {
  const std::string& where = x.where;
  if (x.validation <= 0)
    f.fail(where + ".validation", "must be > 0 with measure 'tune': trials are ranked on a validation split, never on test");
  if (f.has("sweep")) f.fail(where + ".sweep", "is not allowed with measure 'tune' (one model shape per search)");
  if (x.seeds.size() != 1 || x.batches.size() != 1 || x.threads.size() != 1)
    f.fail(where, "with measure 'tune' takes one seed, one batch and one thread count (the search varies the options)");
  const nlohmann::json tune_object = f.has("tune") ? f.raw("tune") : nlohmann::json::object();
  Fields tf(tune_object, where + ".tune", origin, {"trials", "eta", "rungs", "seed"});
  TunePlan plan;
  plan.trials = tf.integer("trials", 8, 1);
  plan.eta = tf.integer("eta", 2, 2);
  plan.rungs = tf.integer("rungs", 3, 1);
  plan.seed = static_cast<uint64_t>(tf.integer("seed", x.seeds.front(), 0));
  std::string listed;
  for (int64_t r = 0; r < plan.rungs; ++r) {
    const double budget = static_cast<double>(x.epochs) / std::pow(static_cast<double>(plan.eta), static_cast<double>(plan.rungs - 1 - r));
    plan.budgets.push_back(std::max<int64_t>(1, std::llround(budget)));
    listed += (listed.empty() ? "" : ", ") + std::to_string(plan.budgets.back());
  }
  for (int64_t r = 1; r < plan.rungs; ++r)
    if (plan.budgets[r] <= plan.budgets[r - 1])
      tf.fail(where + ".tune.rungs", fmt::format("{} rungs with eta {} and epochs {} give the budgets [{}] epochs: each rung "
                                                 "must train longer than the one below; use more epochs or fewer rungs",
                                                 plan.rungs, plan.eta, x.epochs, listed));
  if (plan.count(plan.rungs - 1) >= plan.count(std::max<int64_t>(0, plan.rungs - 2)) && plan.rungs > 1)
    tf.fail(where + ".tune.trials", fmt::format("{} trials with eta {} leave nothing to drop between the last two of {} "
                                                "rungs: use more trials or fewer rungs", plan.trials, plan.eta, plan.rungs));
  return plan;
}

// The fields of experiment `f` that hold for all its entries, in the order they are checked.
Experiment read_experiment(const Fields& f, const std::string& where, const SuiteContext& context,
                           const std::string& suite_dataset) {
  Experiment x;
  x.where = where;
  if (!f.has("name")) f.fail(where + ".name", "is required (a short name for the experiment)");
  x.name = f.text("name", "");
  x.measure = f.text("measure", "convergence", {"convergence", "throughput", "tune"});
  x.validation = f.integer("validation", 0, 0);
  x.dataset = experiment_dataset(f, where, context, suite_dataset);
  x.published = f.has("published") ? parse_published(f, where + ".published", context.origin) : nlohmann::json();
  x.hidden = f.integers("hidden", {500, 500}, 1);
  x.batches = f.integers("batch", {128}, 1);
  x.seeds = f.integers("seeds", {1}, 0);
  x.threads = f.integers("threads", {2}, 1);
  read_sweep(f, context.origin, x);
  x.epochs = f.integer("epochs", 1, 1);
  if (x.measure == "tune") {
    x.plan = read_tune_plan(f, context.origin, x);
  } else if (f.has("tune")) {
    f.fail(where + ".tune", "is only for measure 'tune'");
  }
  return x;
}

// An algorithm entry: its name and options (checked by creating the algorithm; its prediction modes
// go into `modes`), label, engine and distributed mode.
Entry read_entry(const Fields& f, const Fields& af, const std::string& where, const Experiment& x,
                 std::set<std::string>& modes) {
  Entry e;
  e.where = where;
  if (!af.has("algorithm")) af.fail(e.where + ".algorithm", "is required");
  e.algorithm = af.text("algorithm", "");
  e.engine = af.text("engine", "ffbench", {"ffbench", "torch"});
  e.options = af.has("options") ? af.raw("options") : nlohmann::json::object();
  if (e.engine == "ffbench") {
    try {
      for (const auto& mode : create_algorithm(e.algorithm, e.options)->prediction_modes())  // validates name and options now, not hours later
        modes.insert(mode);
    } catch (const std::exception& ex) {
      af.fail(e.where, ex.what());
    }
  }
  e.label = af.text("label", e.engine == "torch" ? "torch-" + e.algorithm : e.algorithm);
  // Distributed points: `distributed` (data | pipeline) on the entry, `ranks` (a number or a
  // list: a sweep axis) on the experiment; `ffbench run` starts such a point under mpirun.
  e.distributed = af.text("distributed", "none", {"none", "data", "pipeline"});
  e.rank_values = e.distributed == "none" ? std::vector<int64_t>{1} : f.integers("ranks", {2}, 1);
  e.link_values = e.distributed == "none" ? std::vector<std::string>{"none"} : links_of(f, x.where);
  if (e.distributed != "none") {
    if (e.engine != "ffbench") af.fail(e.where + ".distributed", "is for engine ffbench only");
    if (x.measure != "convergence")
      af.fail(e.where + ".distributed", "needs measure 'convergence' (its epochs' samples/s are the distributed throughput)");
    const auto why = create_algorithm(e.algorithm, e.options)->distribution_problem(distributed_mode_from(e.distributed));
    if (!why.empty()) af.fail(e.where + ".distributed", fmt::format("{} cannot train with '{}': {}", e.algorithm, e.distributed, why));
  }
  return e;
}

// A point of the entry, before the tune fields (the experiment's per-point fields read here).
SuitePoint make_point(const Fields& f, const SuiteContext& context, const Experiment& x, const Entry& e,
                      const std::vector<int64_t>& layers, int64_t batch, int64_t thread_count, int64_t seed) {
  SuitePoint p;
  p.experiment = x.name;
  p.measure = x.measure;
  p.label = e.label;
  p.algorithm = e.algorithm;
  p.engine = e.engine;
  p.options = e.options;
  p.dataset = x.dataset;
  p.limit_train = f.integer("limit_train", context.limit_train, 0);
  p.limit_test = f.integer("limit_test", context.limit_test, 0);
  p.hidden = layers;
  p.batch = batch;
  p.epochs = x.epochs;
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
  p.validation = x.validation;
  p.published = x.published;
  return p;
}

// The suite's points so far, with their ids (each once).
struct Points {
  Suite& suite;
  std::set<std::string> ids;
  void add(const Fields& f, const std::string& where, SuitePoint p) {
    if (!ids.insert(p.id).second)
      f.fail(where, fmt::format("expands to the point '{}' twice: give each algorithm entry a distinct 'label'", p.id));
    suite.points.push_back(std::move(p));
  }
};

// Every point of an entry of a convergence or throughput experiment: the product of its axes.
void add_grid_points(const Fields& f, const Fields& af, const SuiteContext& context, const Experiment& x, const Entry& e,
                     Points& points) {
  if (af.has("search")) af.fail(e.where + ".search", "is only for measure 'tune'");
  for (const auto& layers : x.layer_sets)
    for (auto batch : x.batch_values)
      for (auto thread_count : x.thread_values)
        for (auto seed : af.has("seeds") ? af.integers("seeds", {}, 0) : x.seeds)
          for (auto ranks : e.rank_values)
            for (const auto& link : e.link_values) {
              auto p = make_point(f, context, x, e, layers, batch, thread_count, seed);
              p.id = safe(fmt::format("{}.{}.d{}-w{}-b{}-t{}-s{}", x.name, e.label, layers.size(), layers.front(),
                                      batch, thread_count, seed));
              if (e.distributed != "none") {
                p.distributed = e.distributed;
                p.ranks = static_cast<int>(ranks);
                p.id += fmt::format("-n{}", ranks);
              }
              if (link != "none") {
                p.link = link;
                p.id += "-l" + link;
              }
              points.add(f, x.where, std::move(p));
            }
}

// The trials' configurations of a tune entry, drawn now (seeded by the tune seed and the label), each
// checked by creating the algorithm with it.
std::vector<nlohmann::json> draw_trials(const Fields& af, const Experiment& x, const Entry& e) {
  const auto& search = af.raw("search");
  Rng rng(x.plan.seed * 0x9E3779B97F4A7C15ull ^ fnv1a(e.label));
  std::vector<nlohmann::json> configs;
  for (int64_t t = 0; t < x.plan.trials; ++t) {
    nlohmann::json config = nlohmann::json::object(), merged = e.options;
    for (const auto& [name, spec] : search.items()) config[name] = sample_dimension(af, spec, e.where + ".search." + name, rng);
    for (const auto& [name, value] : config.items()) merged[name] = value;
    try {
      create_algorithm(e.algorithm, merged);
    } catch (const std::exception& ex) {
      af.fail(e.where + ".search", fmt::format("trial {} draws {}: {}", t, config.dump(), ex.what()));
    }
    configs.push_back(config);
  }
  return configs;
}

// The points of an entry of a tune experiment: rung 0 every trial; rung r > 0 the best
// ceil(trials / eta^r) of rung r-1, chosen at run time.
void add_tune_points(const Fields& f, const Fields& af, const SuiteContext& context, const Experiment& x, const Entry& e,
                     Points& points) {
  if (e.engine != "ffbench") af.fail(e.where + ".engine", "must be ffbench with measure 'tune' (the PyTorch peer has no validation split)");
  if (af.has("seeds")) af.fail(e.where + ".seeds", "is not allowed with measure 'tune' (the experiment's one seed trains every trial)");
  if (!af.has("search") || !af.raw("search").is_object() || af.raw("search").empty())
    af.fail(e.where + ".search", "is required with measure 'tune': an object like {\"lr\": {\"log_uniform\": [1e-4, 1e-1]}, "
                                 "\"negatives\": {\"choice\": [\"uniform\", \"hard\"]}}");
  const auto configs = draw_trials(af, x, e);
  const TunePlan& plan = x.plan;
  for (int64_t r = 0; r < plan.rungs; ++r)
    for (int64_t i = 0; i < plan.count(r); ++i) {
      auto p = make_point(f, context, x, e, x.hidden, x.batches.front(), x.threads.front(), x.seeds.front());
      p.epochs = plan.budgets[static_cast<size_t>(r)];
      p.tune = {{"rung", r}, {"rungs", plan.rungs}, {"eta", plan.eta}, {"trials", plan.trials}, {"seed", plan.seed},
                {"budget", p.epochs}, {"budgets", plan.budgets}, {"search", af.raw("search")}, {"base_options", e.options}};
      if (r == 0) {
        p.tune["trial"] = i;
        p.tune["config"] = configs[static_cast<size_t>(i)];
        for (const auto& [name, value] : configs[static_cast<size_t>(i)].items()) p.options[name] = value;
        p.id = safe(fmt::format("{}.{}.r0-trial{}.d{}-w{}-b{}-s{}", x.name, e.label, i, x.hidden.size(), x.hidden.front(),
                                x.batches.front(), x.seeds.front()));
      } else {
        p.tune["rank"] = i;
        p.tune["trial"] = nullptr;  // chosen at run time from rung r-1's results
        p.tune["config"] = nullptr;
        p.id = safe(fmt::format("{}.{}.r{}-rank{}.d{}-w{}-b{}-s{}", x.name, e.label, r, i, x.hidden.size(), x.hidden.front(),
                                x.batches.front(), x.seeds.front()));
      }
      points.add(f, x.where, std::move(p));
    }
}

// Each published figure's prediction mode must be one of the experiment's.
void check_published_modes(const Fields& f, const Experiment& x, const std::set<std::string>& modes) {
  if (x.published.is_null()) return;
  for (size_t i = 0; i < x.published.size(); ++i) {
    const auto mode = x.published[i].value("mode", std::string());
    if (!mode.empty() && !modes.count(mode)) {
      std::string list;
      for (const auto& m : modes) list += (list.empty() ? "" : ", ") + m;
      f.fail(fmt::format("{}.published[{}].mode", x.where, i), fmt::format("is '{}'; this experiment's prediction modes: {}", mode, list));
    }
  }
}

// One experiment (`merged`: the suite's defaults with its own fields over them) into its points.
void parse_experiment(const nlohmann::json& merged, const std::string& where, const SuiteContext& context,
                      const std::set<std::string>& experiment_fields, const std::string& suite_dataset, Points& points) {
  Fields f(merged, where, context.origin, experiment_fields);
  const Experiment x = read_experiment(f, where, context, suite_dataset);
  if (!f.has("algorithms") || !f.raw("algorithms").is_array() || f.raw("algorithms").empty())
    f.fail(where + ".algorithms", "must be a non-empty list like [{\"algorithm\": \"ff\", \"options\": {}}]");
  const auto& algorithms = f.raw("algorithms");
  std::set<std::string> modes;  // of the experiment's ffbench algorithms, for the published figures
  bool any_distributed = false;
  for (size_t a = 0; a < algorithms.size(); ++a) {
    const std::string awhere = fmt::format("{}.algorithms[{}]", where, a);
    Fields af(algorithms[a], awhere, context.origin, {"algorithm", "options", "label", "engine", "seeds", "search", "distributed"});
    const Entry e = read_entry(f, af, awhere, x, modes);
    any_distributed = any_distributed || e.distributed != "none";
    if (x.measure != "tune") {
      add_grid_points(f, af, context, x, e, points);
    } else {
      add_tune_points(f, af, context, x, e, points);
    }
  }
  if (f.has("ranks") && !any_distributed)
    f.fail(where + ".ranks", "needs an algorithm entry with \"distributed\": \"data\" or \"pipeline\"");
  check_published_modes(f, x, modes);
}

}  // namespace

Suite parse_suite(const std::string& text, const std::string& origin, bool (*dataset_available)(const std::string&)) {
  Suite suite;
  suite.text = text;
  try {
    suite.verbatim = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw SuiteError(fmt::format("{}: not valid JSON: {}", origin, e.what()));
  }
  SuiteContext context;
  context.origin = origin;
  context.dataset_available = dataset_available;
  for (const auto& info : data::registered_datasets()) context.datasets.insert(info.name);
  Fields top(suite.verbatim, "suite", origin,
             {"schema", "name", "description", "dataset", "fallback_dataset", "limit_train", "limit_test", "defaults",
              "experiments"});
  if (top.integer("schema", 1, 1) != 1) top.fail("suite.schema", "must be 1 (the only version this ffbench reads)");
  suite.name = top.text("name", std::filesystem::path(origin).stem().string());
  suite.description = top.text("description", "");
  suite.dataset = top.text("dataset", "synthetic", context.datasets);
  context.fallback = top.text("fallback_dataset", "synthetic", context.datasets);
  suite.resolved_dataset = dataset_available(suite.dataset) ? suite.dataset : context.fallback;
  if (!dataset_available(suite.resolved_dataset))
    top.fail("suite.dataset", fmt::format("names '{}', which is not fetched, and the fallback '{}' is not either: run "
                                          "scripts/fetch_data.sh", suite.dataset, context.fallback));
  context.limit_train = top.integer("limit_train", 0, 0), context.limit_test = top.integer("limit_test", 0, 0);
  const nlohmann::json defaults = top.has("defaults") ? top.raw("defaults") : nlohmann::json::object();
  if (!top.has("experiments") || !top.raw("experiments").is_array() || top.raw("experiments").empty())
    top.fail("suite.experiments", "must be a non-empty list of experiments");

  const std::set<std::string> experiment_fields = {
      "name", "measure", "algorithms", "hidden", "batch", "epochs", "time_budget_s", "seeds", "threads", "targets",
      "steps", "warmup", "repeats", "sweep", "diagnostics", "limit_train", "limit_test", "eval_every", "standardize",
      "denormals", "trained_epochs", "validation", "dataset", "published", "tune", "ranks", "links"};
  Fields defaults_fields(defaults, "suite.defaults", origin, experiment_fields);
  Points points{suite, {}};
  const auto& experiments = top.raw("experiments");
  for (size_t e = 0; e < experiments.size(); ++e) {
    nlohmann::json merged = defaults;
    const std::string where = fmt::format("experiments[{}]", e);
    if (!experiments[e].is_object()) top.fail(where, "must be a JSON object");
    for (const auto& [key, value] : experiments[e].items()) merged[key] = value;
    parse_experiment(merged, where, context, experiment_fields, suite.resolved_dataset, points);
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
