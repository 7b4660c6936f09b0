// How long a suite's points will take, said before they run: from the points' own history where it
// has one (the same point finished in an earlier run folder, on this machine or, scaled by the peak
// FMA rate, on another), else from the analytic FLOPs of the work at a share of this machine's GEMM
// rate. Each estimate says which of the three it came from, so the printed total says what it assumed.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/harness/suite.hpp"

namespace ffb {

enum class EstimateSource { this_machine, other_machine, analytic };

struct PointEstimate {
  double seconds = 0.0;
  EstimateSource source = EstimateSource::analytic;
};

// The identity of a machine as far as timing goes: CPU model name, family and model numbers, hardware
// threads and oneDNN's ISA (the model name alone is "AMD EPYC" for three generations).
std::string machine_key(const nlohmann::json& manifest);
// The CPU's model name from /proc/cpuinfo.
std::string cpu_model();
// This machine's CPU family and model numbers from /proc/cpuinfo ("family 23 model 49"), "" if unknown.
nlohmann::json cpu_identity();

class Estimator {
 public:
  // Reads the finished points of every run folder under `run_roots` (reports/runs, reports/published)
  // whose id is one of `points`; `this_manifest` names this machine (machine_key, peak_fma).
  Estimator(const std::vector<std::filesystem::path>& run_roots, const std::vector<SuitePoint>& points,
            const nlohmann::json& this_manifest, double gemm_gflops, int threads);
  PointEstimate estimate(const SuitePoint& point) const;
  // "30 from this machine's earlier runs, ..." for the counts of `sources`.
  std::string explain(const std::map<EstimateSource, int>& sources) const;

 private:
  struct Past {
    nlohmann::json point;  // the point as it ran (its suite entry)
    double seconds = 0.0;  // its wall time, scaled to this machine
    bool same_machine = false;
    std::string created;   // the run's start, to prefer the newest
  };
  std::multimap<std::string, Past> history_;
  double gemm_gflops_;
  int threads_;
  double nearest_ratio_ = 0.0;  // this machine's speed over the most similar other machine with history
};

// What each experiment took against its estimate (experiment -> estimated, actual seconds, points run).
void print_time_per_experiment(const std::map<std::string, std::tuple<double, double, int>>& spent);

double analytic_point_seconds(const SuitePoint& p, double gemm_gflops, int threads);
std::string minutes(double seconds);

}  // namespace ffb
