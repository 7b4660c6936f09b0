// Suite files (bench/suites/*.json): experiments and sweep axes, validated field by field and
// expanded into points (one fresh process each). The format is documented in bench/suites/README.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ffb {

struct SuitePoint {
  std::string id;            // unique, file-name safe: experiment.label.d2-w500-b128-t2-s1
  std::string experiment;
  std::string measure;       // convergence | throughput
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

// Finds a suite by name (bench/suites/<name>.json) or takes a path.
std::string resolve_suite_path(const std::string& name_or_path, const std::string& source_dir);

}  // namespace ffb
