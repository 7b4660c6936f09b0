// Suite files (bench/suites/*.json): experiments and sweep axes, validated field by field and
// expanded into points (one fresh process each). The format is documented in bench/suites/README.md.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ffb {

struct SuitePoint {
  std::string id;            // unique, file-name safe: experiment.label.d2-w500-b128-t2-s1
  std::string experiment;
  std::string measure;       // convergence | throughput | tune (a convergence run that is one trial of a search)
  std::string label;         // the algorithm's label within the experiment (e.g. "ff-hard")
  std::string algorithm;
  std::string engine = "ffbench";  // ffbench | torch
  nlohmann::json options = nlohmann::json::object();
  std::string dataset;       // resolved: the suite's dataset or its fallback
  int64_t limit_train = 0, limit_test = 0;
  std::vector<int64_t> hidden;
  int64_t batch = 128;
  int64_t epochs = 1;
  int64_t eval_every = 1;       // convergence: evaluate after every N-th epoch (and the last)
  bool standardize = false;     // dataset pixels shifted and scaled by the train split's mean and stdev
  double time_budget_seconds = 0.0;
  int64_t steps = 20, warmup = 3, repeats = 5;  // throughput windows
  uint64_t seed = 1;
  int threads = 1;
  std::vector<double> targets;  // accuracies for time-to-target
  bool diagnostics = false;     // FF per-layer accuracy at the end
  std::string denormals = "flush";  // flush (FTZ/DAZ on every thread) | keep (IEEE subnormals)
  int64_t trained_epochs = 0;   // throughput: also time the windows after this many epochs of real training
  int64_t validation = 0;       // samples carved from the end of the train split; > 0: choices use it, test once at the end
  // throughput: "all" (training windows, inference per prediction mode, the best-of-layouts GEMM
  // ceiling and the peak FMA rate, each window paired with a ceiling round) or "train" (training
  // windows and the plain-layout GEMM rate of the step's shapes only, no paired rounds: what the
  // regression check compares, in a fraction of the time) or "steps" (the training windows alone,
  // no GEMM timing: the check's instruction counts under valgrind). Not a suite field: the check
  // writes its own point files.
  std::string scope = "all";
  // Distributed points (measure convergence): "data" or "pipeline" over `ranks` MPI ranks, each
  // with `threads` threads; `ffbench run` starts them under mpirun. "none": one process.
  std::string distributed = "none";
  int ranks = 1;
  // The network between the ranks: "" (shared memory on this host), "unshaped" or a rate such as
  // "1gbit" (two network namespaces joined by a shaped veth pair: scripts/cluster/emulated_link.sh).
  std::string link;
  // Published figures to compare with (a list of {"test_error", "band", "source", optional "mode" and
  // "note"}), or null.
  nlohmann::json published;
  // measure "tune": {"rung", "rungs", "eta", "trials", "budget", "trial", "rank", "config", "search", ...};
  // a rung above 0 is resolved at run time from the rung below's results (resolve_tune_point).
  nlohmann::json tune;
  nlohmann::json to_json() const;
  static SuitePoint from_json(const nlohmann::json& j);
};

struct Suite {
  std::string name;
  std::string description;
  std::string dataset;        // as written
  std::string resolved_dataset;
  nlohmann::json verbatim;    // the file as parsed
  std::string text;           // the file as read, byte for byte
  std::vector<SuitePoint> points;
};

// Reads, validates and expands a suite file. `dataset_available` decides whether a dataset is
// usable or the suite's fallback applies. Errors name the file, the field and what is allowed.
Suite load_suite(const std::string& path, bool (*dataset_available)(const std::string&));
Suite parse_suite(const std::string& text, const std::string& origin, bool (*dataset_available)(const std::string&));

// Successive halving (measure "tune"): the score of a trial's result document, the highest
// validation accuracy over prediction modes at its final epoch (-1 when it failed or diverged).
double tune_score(const nlohmann::json& result);

// Fills in a tune point of rung r > 0: the trial ranked point.tune.rank among the rung r-1 results of
// the same experiment and label (highest score first, lower trial first among equals), its
// configuration merged into the options. `result_of` returns a point's result document, or null when
// it has not finished. Returns false, with `why`, while the rung below is unfinished. Rung-0 points
// are left as they are (and true returned).
bool resolve_tune_point(SuitePoint& point, const std::vector<SuitePoint>& all,
                        const std::function<nlohmann::json(const std::string& id)>& result_of, std::string& why);

// Finds a suite by name (bench/suites/<name>.json) or takes a path.
std::string resolve_suite_path(const std::string& name_or_path, const std::string& source_dir);

}  // namespace ffb
