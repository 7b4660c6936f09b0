// Runs one suite point in this process and returns its result document (schema in
// bench/suites/README.md): a convergence run (per-epoch accuracy against training time) or a
// throughput measurement (steady-state samples/s, inference per mode, GEMM roofline on the
// point's own shapes), always with the memory figures.
#pragma once
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "algorithms/backend/communicator.hpp"
#include "algorithms/backend/matmul.hpp"
#include "bench/harness/suite.hpp"

namespace ffb {

constexpr int kResultSchemaVersion = 1;

// Progress lines for the current point: what, how far (0..1), and a short status text.
using ProgressFn = std::function<void(double fraction, const std::string& status)>;

// A distributed point (point.distributed != "none") runs on every rank of an MPI job with `comm`
// (ffbench point under mpirun); every rank returns the same result, rank 0 writes it.
nlohmann::json run_point(const SuitePoint& point, const ProgressFn& progress, Communicator* comm = nullptr);

// The GEMM ceiling of a step: every matmul shape the step executed (with its transposes, how many
// times), each timed without post-ops on all the process's threads as the faster of oneDNN's plain
// and preferred (blocked) layouts, the fastest of 5 timings (algorithms/backend/ceiling.hpp). The
// ceiling GFLOP/s is the step's matmul FLOPs over the summed best times: what the step would reach
// if it did nothing but its matmuls at the best speed oneDNN gives those shapes. `blocked` false
// times the plain layout only (plain_gflops; gflops is then the plain figure too).
nlohmann::json measure_gemm_roofline(const std::vector<std::pair<MatmulShape, int64_t>>& shapes, bool blocked = true);

// This machine's f32 GEMM GFLOP/s on a mid-sized shape (256x1000x1000) on the process's threads:
// for estimates, not for results.
double measure_gemm_rate();

// The machine's peak f32 FMA rate on the process's threads (the physical limit beside the ceiling).
nlohmann::json peak_fma_json();
// The streaming memory bandwidth with an optimizer update's traffic (measure_memory_bandwidth).
nlohmann::json memory_bandwidth_json();

// Process peak resident set size in bytes (getrusage).
int64_t peak_rss_bytes();

// Writes `content` to `path` through a temporary file and a rename, so readers never see a part.
void write_atomic(const std::string& path, const std::string& content);

}  // namespace ffb
