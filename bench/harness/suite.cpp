// See suite.hpp and bench/suites/README.md.
#include "bench/harness/suite.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <cctype>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "algorithms/registry.hpp"
#include "common/rng.hpp"
#include "datasets/dataset.hpp"

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

// A published figure: {"test_error", "band", "source", optional "mode", "note"}, or a list of them.
nlohmann::json parse_published(const Fields& f, const std::string& where, const std::string& origin) {
  const auto& value = f.raw("published");
  const nlohmann::json list = value.is_array() ? value : nlohmann::json::array({value});
  if (list.empty()) f.fail(where, "must be an object like {\"test_error\": 0.0144, \"band\": 0.016, \"source\": \"...\"} or a non-empty list of them");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string item = value.is_array() ? fmt::format("{}[{}]", where, i) : where;
    Fields pf(list[i], item, origin, {"test_error", "band", "source", "mode", "note"});
    if (!pf.has("test_error") || !pf.has("band") || !pf.has("source"))
      pf.fail(item, "needs test_error (the published figure, a fraction: 0.0144 for 1.44%), band (the highest test error "
                    "that counts as reproduced) and source");
    const double error = pf.number("test_error", 0.0, 0.0), band = pf.number("band", 0.0, 0.0);
    if (error > 1.0 || band > 1.0) pf.fail(item + ".test_error", "and band are fractions in [0, 1] (0.0144 for 1.44%)");
    if (band < error) pf.fail(item + ".band", fmt::format("is {}, below the published test error {}: the band is the "
                                                        "highest test error that still counts as reproduced", band, error));
    pf.text("source", "");
    pf.text("mode", "");
    pf.text("note", "");
  }
  return list;
}

// The rounding of sampled continuous values (3 significant digits): readable configurations.
double three_digits(double value) {
  if (value == 0.0 || !std::isfinite(value)) return value;
  const double scale = std::pow(10.0, 2 - static_cast<int>(std::floor(std::log10(std::fabs(value)))));
  return std::round(value * scale) / scale;
}

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

// Checks one search dimension ({"log_uniform": [lo, hi]}, {"uniform": [lo, hi]}, {"int_uniform":
// [lo, hi]} or {"choice": [values]}) and draws one value from it.
nlohmann::json sample_dimension(const Fields& owner, const nlohmann::json& spec, const std::string& where, Rng& rng) {
  if (!spec.is_object() || spec.size() != 1)
    owner.fail(where, "must be one distribution: {\"log_uniform\": [lo, hi]}, {\"uniform\": [lo, hi]}, "
                      "{\"int_uniform\": [lo, hi]} or {\"choice\": [values]}");
  const std::string kind = spec.begin().key();
  const nlohmann::json args = spec.begin().value();
  const std::string at = where + "." + kind;
  if (kind == "choice") {
    if (!args.is_array() || args.empty()) owner.fail(at, "must be a non-empty list of values");
    return args[rng.below(args.size())];
  }
  if (kind != "log_uniform" && kind != "uniform" && kind != "int_uniform")
    owner.fail(at, "is not a known distribution; allowed: choice, int_uniform, log_uniform, uniform");
  if (!args.is_array() || args.size() != 2 || !args[0].is_number() || !args[1].is_number())
    owner.fail(at, "must be [lo, hi], two numbers");
  const double lo = args[0].get<double>(), hi = args[1].get<double>();
  if (!(hi > lo)) owner.fail(at, fmt::format("must have lo < hi, got [{}, {}]", lo, hi));
  if (kind == "int_uniform") {
    if (!args[0].is_number_integer() || !args[1].is_number_integer()) owner.fail(at, "must be two whole numbers");
    const auto low = args[0].get<int64_t>();
    return low + static_cast<int64_t>(rng.below(static_cast<uint64_t>(args[1].get<int64_t>() - low + 1)));
  }
  const double u = static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53;
  if (kind == "uniform") return three_digits(lo + u * (hi - lo));
  if (!(lo > 0.0)) owner.fail(at, fmt::format("needs lo > 0 (a logarithmic scale), got {}", lo));
  return three_digits(std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo))));
}

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

// An experiment's `links` (its distributed entries' network, a sweep axis): "none" (shared memory on
// this host), "unshaped" (two namespaces joined by a veth pair) or a rate such as "1gbit" or "500mbit"
// (the pair shaped by tc tbf); scripts/cluster/emulated_link.sh makes them.
std::vector<std::string> links_of(const Fields& f, const std::string& where) {
  if (!f.has("links")) return {"none"};
  const auto& raw = f.raw("links");
  if (!raw.is_array() || raw.empty()) f.fail(where + ".links", "must be a non-empty list like [\"none\", \"1gbit\", \"10gbit\"]");
  std::vector<std::string> links;
  for (const auto& item : raw) {
    const std::string link = item.is_string() ? item.get<std::string>() : "";
    size_t digits = 0;
    while (digits < link.size() && std::isdigit(static_cast<unsigned char>(link[digits]))) ++digits;
    const std::string unit = link.substr(digits);
    if (link != "none" && link != "unshaped" && (digits == 0 || (unit != "gbit" && unit != "mbit")))
      f.fail(where + ".links", fmt::format("has '{}'; each must be \"none\" (shared memory), \"unshaped\" or a rate like "
                                           "\"1gbit\" or \"500mbit\"", item.dump()));
    links.push_back(link);
  }
  return links;
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
  std::set<std::string> datasets;
  for (const auto& info : data::registered_datasets()) datasets.insert(info.name);
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
      "denormals", "trained_epochs", "validation", "dataset", "published", "tune", "ranks", "links"};
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
    const auto measure = f.text("measure", "convergence", {"convergence", "throughput", "tune"});
    const int64_t validation = f.integer("validation", 0, 0);
    std::string dataset = suite.resolved_dataset;
    if (f.has("dataset")) {
      const auto asked = f.text("dataset", "", datasets);
      dataset = dataset_available(asked) ? asked : fallback;
      if (!dataset_available(dataset))
        f.fail(where + ".dataset", fmt::format("names '{}', which is not fetched, and the fallback '{}' is not either: "
                                               "run scripts/fetch_data.sh", asked, fallback));
    }
    const nlohmann::json published = f.has("published") ? parse_published(f, where + ".published", origin) : nlohmann::json();
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
    TunePlan plan;
    const int64_t epochs = f.integer("epochs", 1, 1);
    if (measure == "tune") {
      if (validation <= 0)
        f.fail(where + ".validation", "must be > 0 with measure 'tune': trials are ranked on a validation split, never on test");
      if (f.has("sweep")) f.fail(where + ".sweep", "is not allowed with measure 'tune' (one model shape per search)");
      if (seeds.size() != 1 || batches.size() != 1 || threads.size() != 1)
        f.fail(where, "with measure 'tune' takes one seed, one batch and one thread count (the search varies the options)");
      const nlohmann::json tune_object = f.has("tune") ? f.raw("tune") : nlohmann::json::object();
      Fields tf(tune_object, where + ".tune", origin, {"trials", "eta", "rungs", "seed"});
      plan.trials = tf.integer("trials", 8, 1);
      plan.eta = tf.integer("eta", 2, 2);
      plan.rungs = tf.integer("rungs", 3, 1);
      plan.seed = static_cast<uint64_t>(tf.integer("seed", seeds.front(), 0));
      std::string listed;
      for (int64_t r = 0; r < plan.rungs; ++r) {
        const double budget = static_cast<double>(epochs) / std::pow(static_cast<double>(plan.eta), static_cast<double>(plan.rungs - 1 - r));
        plan.budgets.push_back(std::max<int64_t>(1, std::llround(budget)));
        listed += (listed.empty() ? "" : ", ") + std::to_string(plan.budgets.back());
      }
      for (int64_t r = 1; r < plan.rungs; ++r)
        if (plan.budgets[r] <= plan.budgets[r - 1])
          tf.fail(where + ".tune.rungs", fmt::format("{} rungs with eta {} and epochs {} give the budgets [{}] epochs: each rung "
                                                     "must train longer than the one below; use more epochs or fewer rungs",
                                                     plan.rungs, plan.eta, epochs, listed));
      if (plan.count(plan.rungs - 1) >= plan.count(std::max<int64_t>(0, plan.rungs - 2)) && plan.rungs > 1)
        tf.fail(where + ".tune.trials", fmt::format("{} trials with eta {} leave nothing to drop between the last two of {} "
                                                    "rungs: use more trials or fewer rungs", plan.trials, plan.eta, plan.rungs));
    } else if (f.has("tune")) {
      f.fail(where + ".tune", "is only for measure 'tune'");
    }
    if (!f.has("algorithms") || !f.raw("algorithms").is_array() || f.raw("algorithms").empty())
      f.fail(where + ".algorithms", "must be a non-empty list like [{\"algorithm\": \"ff\", \"options\": {}}]");
    const auto& algorithms = f.raw("algorithms");
    std::set<std::string> modes;  // of the experiment's ffbench algorithms, for the published figures
    bool any_distributed = false;
    for (size_t a = 0; a < algorithms.size(); ++a) {
      const std::string awhere = fmt::format("{}.algorithms[{}]", where, a);
      Fields af(algorithms[a], awhere, origin, {"algorithm", "options", "label", "engine", "seeds", "search", "distributed"});
      if (!af.has("algorithm")) af.fail(awhere + ".algorithm", "is required");
      const auto algorithm = af.text("algorithm", "");
      const auto engine = af.text("engine", "ffbench", {"ffbench", "torch"});
      nlohmann::json options = af.has("options") ? af.raw("options") : nlohmann::json::object();
      if (engine == "ffbench") {
        try {
          for (const auto& mode : create_algorithm(algorithm, options)->prediction_modes())  // validates name and options now, not hours later
            modes.insert(mode);
        } catch (const std::exception& ex) {
          af.fail(awhere, ex.what());
        }
      }
      const auto label = af.text("label", engine == "torch" ? "torch-" + algorithm : algorithm);
      // Distributed points: `distributed` (data | pipeline) on the entry, `ranks` (a number or a
      // list: a sweep axis) on the experiment; `ffbench run` starts such a point under mpirun.
      const auto distributed = af.text("distributed", "none", {"none", "data", "pipeline"});
      const auto rank_values = distributed == "none" ? std::vector<int64_t>{1} : f.integers("ranks", {2}, 1);
      const auto link_values = distributed == "none" ? std::vector<std::string>{"none"} : links_of(f, where);
      if (distributed != "none") {
        if (engine != "ffbench") af.fail(awhere + ".distributed", "is for engine ffbench only");
        if (measure != "convergence")
          af.fail(awhere + ".distributed", "needs measure 'convergence' (its epochs' samples/s are the distributed throughput)");
        const auto why = create_algorithm(algorithm, options)->distribution_problem(distributed_mode_from(distributed));
        if (!why.empty()) af.fail(awhere + ".distributed", fmt::format("{} cannot train with '{}': {}", algorithm, distributed, why));
        any_distributed = true;
      }
      // Every point of the entry, before the tune fields.
      auto make_point = [&](const std::vector<int64_t>& layers, int64_t batch, int64_t thread_count, int64_t seed) {
        SuitePoint p;
        p.experiment = experiment;
        p.measure = measure;
        p.label = label;
        p.algorithm = algorithm;
        p.engine = engine;
        p.options = options;
        p.dataset = dataset;
        p.limit_train = f.integer("limit_train", limit_train, 0);
        p.limit_test = f.integer("limit_test", limit_test, 0);
        p.hidden = layers;
        p.batch = batch;
        p.epochs = epochs;
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
        p.validation = validation;
        p.published = published;
        return p;
      };
      auto add_point = [&](SuitePoint p) {
        if (!ids.insert(p.id).second)
          f.fail(where, fmt::format("expands to the point '{}' twice: give each algorithm entry a distinct 'label'", p.id));
        suite.points.push_back(std::move(p));
      };
      if (measure != "tune") {
        if (af.has("search")) af.fail(awhere + ".search", "is only for measure 'tune'");
        for (const auto& layers : layer_sets)
          for (auto batch : batch_values)
            for (auto thread_count : thread_values)
              for (auto seed : af.has("seeds") ? af.integers("seeds", {}, 0) : seeds)
                for (auto ranks : rank_values)
                  for (const auto& link : link_values) {
                    auto p = make_point(layers, batch, thread_count, seed);
                    p.id = safe(fmt::format("{}.{}.d{}-w{}-b{}-t{}-s{}", experiment, label, layers.size(), layers.front(),
                                            batch, thread_count, seed));
                    if (distributed != "none") {
                      p.distributed = distributed;
                      p.ranks = static_cast<int>(ranks);
                      p.id += fmt::format("-n{}", ranks);
                    }
                    if (link != "none") {
                      p.link = link;
                      p.id += "-l" + link;
                    }
                    add_point(std::move(p));
                  }
        continue;
      }
      // measure "tune": the trials' configurations drawn now (seeded by the tune seed and the label),
      // rung 0 all of them; rung r > 0 the best ceil(trials / eta^r) of rung r-1, chosen at run time.
      if (engine != "ffbench") af.fail(awhere + ".engine", "must be ffbench with measure 'tune' (the PyTorch peer has no validation split)");
      if (af.has("seeds")) af.fail(awhere + ".seeds", "is not allowed with measure 'tune' (the experiment's one seed trains every trial)");
      if (!af.has("search") || !af.raw("search").is_object() || af.raw("search").empty())
        af.fail(awhere + ".search", "is required with measure 'tune': an object like {\"lr\": {\"log_uniform\": [1e-4, 1e-1]}, "
                                    "\"negatives\": {\"choice\": [\"uniform\", \"hard\"]}}");
      const auto& search = af.raw("search");
      Rng rng(plan.seed * 0x9E3779B97F4A7C15ull ^ fnv1a(label));
      std::vector<nlohmann::json> configs;
      for (int64_t t = 0; t < plan.trials; ++t) {
        nlohmann::json config = nlohmann::json::object(), merged = options;
        for (const auto& [name, spec] : search.items()) config[name] = sample_dimension(af, spec, awhere + ".search." + name, rng);
        for (const auto& [name, value] : config.items()) merged[name] = value;
        try {
          create_algorithm(algorithm, merged);
        } catch (const std::exception& ex) {
          af.fail(awhere + ".search", fmt::format("trial {} draws {}: {}", t, config.dump(), ex.what()));
        }
        configs.push_back(config);
      }
      for (int64_t r = 0; r < plan.rungs; ++r)
        for (int64_t i = 0; i < plan.count(r); ++i) {
          auto p = make_point(hidden, batches.front(), threads.front(), seeds.front());
          p.epochs = plan.budgets[static_cast<size_t>(r)];
          p.tune = {{"rung", r}, {"rungs", plan.rungs}, {"eta", plan.eta}, {"trials", plan.trials}, {"seed", plan.seed},
                    {"budget", p.epochs}, {"budgets", plan.budgets}, {"search", search}, {"base_options", options}};
          if (r == 0) {
            p.tune["trial"] = i;
            p.tune["config"] = configs[static_cast<size_t>(i)];
            for (const auto& [name, value] : configs[static_cast<size_t>(i)].items()) p.options[name] = value;
            p.id = safe(fmt::format("{}.{}.r0-trial{}.d{}-w{}-b{}-s{}", experiment, label, i, hidden.size(), hidden.front(),
                                    batches.front(), seeds.front()));
          } else {
            p.tune["rank"] = i;
            p.tune["trial"] = nullptr;  // chosen at run time from rung r-1's results
            p.tune["config"] = nullptr;
            p.id = safe(fmt::format("{}.{}.r{}-rank{}.d{}-w{}-b{}-s{}", experiment, label, r, i, hidden.size(), hidden.front(),
                                    batches.front(), seeds.front()));
          }
          add_point(std::move(p));
        }
    }
    if (f.has("ranks") && !any_distributed)
      f.fail(where + ".ranks", "needs an algorithm entry with \"distributed\": \"data\" or \"pipeline\"");
    if (!published.is_null())
      for (size_t i = 0; i < published.size(); ++i) {
        const auto mode = published[i].value("mode", std::string());
        if (!mode.empty() && !modes.count(mode)) {
          std::string list;
          for (const auto& m : modes) list += (list.empty() ? "" : ", ") + m;
          f.fail(fmt::format("{}.published[{}].mode", where, i), fmt::format("is '{}'; this experiment's prediction modes: {}", mode, list));
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
