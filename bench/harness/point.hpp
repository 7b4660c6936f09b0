// Runs one suite point in this process and returns its result document (schema in
// bench/suites/README.md): a convergence run (per-epoch accuracy against training time) or a
// throughput measurement (steady-state samples/s, inference per mode, GEMM roofline on the
// point's own shapes), always with the memory figures.
#pragma once
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/harness/suite.hpp"

namespace ffb {

constexpr int kResultSchemaVersion = 1;

// Progress lines for the current point: what, how far (0..1), and a short status text.
using ProgressFn = std::function<void(double fraction, const std::string& status)>;

nlohmann::json run_point(const SuitePoint& point, const ProgressFn& progress);

// oneDNN f32 GEMM GFLOP/s on the point's layer shapes (B x in x out each), median of repeats:
// the roofline that the point's throughput is divided by.
nlohmann::json measure_gemm_roofline(int64_t rows, int64_t input, const std::vector<int64_t>& hidden, int classes);

// Process peak resident set size in bytes (getrusage).
int64_t peak_rss_bytes();

// Writes `content` to `path` through a temporary file and a rename, so readers never see a part.
void write_atomic(const std::string& path, const std::string& content);

}  // namespace ffb
