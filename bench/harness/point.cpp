// See point.hpp.
#include "bench/harness/point.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "algorithms/registry.hpp"
#include "algorithms/backend/ceiling.hpp"
#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/matmul.hpp"
#include "bench/harness/point_parts.hpp"
#include "bench/harness/training.hpp"
#include "datasets/dataset.hpp"

namespace ffb {

namespace {
using Clock = std::chrono::steady_clock;

nlohmann::json memory_json(const Algorithm& algorithm) {
  const auto& arena = algorithm.arena();
  nlohmann::json m;
  for (int c = 0; c < kMemCategories; ++c) m[to_string(static_cast<MemCategory>(c))] = arena.bytes(static_cast<MemCategory>(c));
  m["arena_total"] = arena.allocated_bytes();
  m["peak_live_activations"] = arena.peak_live_activation_bytes();
  return m;
}


nlohmann::json flops_json(const Algorithm& algorithm) {
  nlohmann::json f;
  f["train"] = algorithm.flops_per_sample(Phase::train);
  const auto modes = algorithm.prediction_modes();
  for (size_t m = 0; m < modes.size(); ++m) f["inference"][modes[m]] = algorithm.flops_per_sample(Phase::inference, static_cast<int>(m));
  return f;
}
}  // namespace

nlohmann::json measure_gemm_roofline(const std::vector<std::pair<MatmulShape, int64_t>>& executed, bool blocked) {
  nlohmann::json shapes = nlohmann::json::array();
  double total_flops = 0.0, total_seconds = 0.0, plain_seconds = 0.0, median_seconds = 0.0;
  for (const auto& [s, count] : executed) {
    if (count <= 0) continue;
    // 5 timings for the report's ceiling; 3 for scope "train" (the regression check's A/B, where
    // both binaries time the same shapes minutes apart and the process count is what costs).
    const auto ceiling = measure_gemm_ceiling(s, 0.02, blocked ? 5 : 3, blocked);
    shapes.push_back({{"m", s.m}, {"n", s.n}, {"k", s.k}, {"trans_a", s.trans_a}, {"trans_b", s.trans_b}, {"bf16", s.bf16},
                      {"runs_per_step", count}, {"gflops", ceiling.gflops}, {"plain_gflops", ceiling.plain_gflops},
                      {"blocked_gflops", ceiling.blocked_gflops}, {"best", ceiling.best},
                      {"median_gflops", ceiling.median_gflops}});
    total_flops += s.flops() * static_cast<double>(count);
    total_seconds += s.flops() * static_cast<double>(count) / (ceiling.gflops * 1e9);
    plain_seconds += s.flops() * static_cast<double>(count) / (ceiling.plain_gflops * 1e9);
    median_seconds += s.flops() * static_cast<double>(count) / (ceiling.median_gflops * 1e9);
  }
  return {{"shapes", shapes},
          {"gflops", total_seconds > 0 ? total_flops / total_seconds * 1e-9 : 0.0},
          {"plain_gflops", plain_seconds > 0 ? total_flops / plain_seconds * 1e-9 : 0.0},
          {"median_gflops", median_seconds > 0 ? total_flops / median_seconds * 1e-9 : 0.0},
          {"method", blocked ? "per shape the faster of oneDNN's plain and preferred (blocked) layouts, no post-ops, "
                               "fastest of 5 timings of >= 20 ms; bf16 shapes in bf16"
                             : "per shape oneDNN on the plain layout only (scope 'train'), no post-ops, fastest of 3 "
                               "timings of >= 20 ms; bf16 shapes in bf16"}};
}

nlohmann::json run_point(const SuitePoint& point, const ProgressFn& progress, Communicator* comm) {
  set_denormals(parse_denormals(point.denormals));
  set_threads(point.threads);
  nlohmann::json result;
  result["schema_version"] = kResultSchemaVersion;
  result["id"] = point.id;
  result["point"] = point.to_json();
  result["threads"] = threads();
  result["denormals"] = {{"setting", to_string(denormals())}, {"all_threads", denormal_mode_on_all_threads()}};
  const auto started = Clock::now();
  auto algorithm = create_algorithm(point.algorithm, point.options);
  if (point.distributed != "none") {
    if (comm == nullptr || comm->size() != point.ranks)
      throw std::invalid_argument(fmt::format("point {} trains over {} ranks: run it with 'ffbench run' (which starts "
                                              "mpirun -np {}), not on its own", point.id, point.ranks, point.ranks));
    if (point.measure != "convergence")
      throw std::invalid_argument(fmt::format("point {}: distributed points measure 'convergence' only", point.id));
    algorithm->distribute(distributed_mode_from(point.distributed), comm);
    result["distributed"] = {{"mode", point.distributed}, {"ranks", point.ranks}};
  }
  PointStatus status = PointStatus::ok;
  std::string detail;
  std::string csv;
  try {
    if (point.measure == "throughput") {  // else convergence, or tune (a convergence run that is a trial)
      const data::DatasetShape shape = data::shape_of(point.dataset);  // the steps run on random inputs of its shape
      const ModelSpec spec{shape.input, point.hidden, shape.classes};
      algorithm->setup(spec, point.batch, point.seed);
      result.update(run_throughput(point, *algorithm, spec, progress));
    } else {
      result.update(run_convergence(point, *algorithm, progress, status, detail, csv));
    }
  } catch (const Diverged& e) {
    status = PointStatus::diverged;
    detail = e.what();
  }
  result["status"] = to_string(status);
  result["detail"] = detail;
  result["options_resolved"] = algorithm->options().values();
  result["model"] = algorithm->spec().describe();
  result["modes"] = algorithm->prediction_modes();
  result["flops_per_sample"] = flops_json(*algorithm);
  auto memory = memory_json(*algorithm);
  if (result.contains("peak_live_activations")) memory["peak_live_activations"] = result["peak_live_activations"];
  memory["peak_rss"] = peak_rss_bytes();
  result["memory"] = memory;
  // The memory roof beside the GEMM ceiling, for the parts of the step outside the products. Its
  // arrays (8x the last-level cache) would raise the process's peak RSS: timed after it was read.
  if (point.measure == "throughput" && point.scope == "all" && status == PointStatus::ok) result["memory_bandwidth"] = memory_bandwidth_json();
  result["wall_seconds"] = since(started);
  if (!csv.empty()) result["csv"] = csv;
  return result;
}

}  // namespace ffb
