// What a point's two measures share, between point.cpp (the point's life), throughput_point.cpp
// (steady-state windows) and convergence_point.cpp (a training run's curve): internal to the harness.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "algorithms/algorithm.hpp"
#include "bench/harness/point.hpp"
#include "bench/harness/point_status.hpp"

namespace ffb {

// Seconds since `start` on the steady clock.
inline double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Subnormal values per category, and per buffer where there are any (the diagnostic of issue 17).
nlohmann::json census_json(const std::vector<BufferCensus>& census);

// A throughput point (throughput_point.cpp), on an algorithm set up for `spec`: steady-state training
// windows, inference per prediction mode, the GEMM ceiling of the step's own shapes.
nlohmann::json run_throughput(const SuitePoint& point, Algorithm& algorithm, const ModelSpec& spec,
                              const ProgressFn& progress);

// A convergence point: train for the point's epochs, accuracy after each, time to each target; the
// per-epoch CSV in `csv`; the training outcome's status and detail.
nlohmann::json run_convergence(const SuitePoint& point, Algorithm& algorithm, const ProgressFn& progress,
                               PointStatus& status, std::string& detail, std::string& csv);

}  // namespace ffb
