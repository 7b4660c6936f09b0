// What a point's two measures share, between point.cpp (throughput, the point's life) and
// convergence_point.cpp (a training run's curve): internal to the harness.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "algorithms/algorithm.hpp"
#include "bench/harness/point.hpp"
#include "bench/harness/point_status.hpp"

namespace ffb {

// Subnormal values per category, and per buffer where there are any (the diagnostic of issue 17).
nlohmann::json census_json(const std::vector<BufferCensus>& census);

// A convergence point: train for the point's epochs, accuracy after each, time to each target; the
// per-epoch CSV in `csv`; the training outcome's status and detail.
nlohmann::json run_convergence(const SuitePoint& point, Algorithm& algorithm, const ProgressFn& progress,
                               PointStatus& status, std::string& detail, std::string& csv);

}  // namespace ffb
