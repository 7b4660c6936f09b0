// The time estimate before a sweep (bench/harness/estimate.cpp): this machine's history first, the
// most similar other machine's scaled by the GEMM rates, analytic FLOPs without history; and history
// that is damaged (a manifest of another shape, a result that is garbage) is passed over, never fatal:
// fuzzing found that a manifest whose "created" was a number made `ffbench run` stop before it started.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "bench/harness/estimate.hpp"

namespace fs = std::filesystem;
using namespace ffb;

namespace {
void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

SuitePoint a_point() {
  SuitePoint p;
  p.id = "e.ff.d2-w8-b4-t1-s1";
  p.experiment = "e";
  p.algorithm = p.label = "ff";
  p.measure = "convergence";
  p.dataset = "synthetic";  // as a suite resolves it (the analytic estimate reads its shape)
  p.hidden = {8, 8};
  p.batch = 4;
  p.epochs = 4;
  return p;
}

nlohmann::json machine(const std::string& cpu, double gemm) {
  return {{"cpu_model", cpu}, {"hardware_threads", 2}, {"onednn_isa", "avx2"}, {"peak_fma", {{"gflops", 2 * gemm}}}, {"gemm_gflops", gemm},
          {"created", "2026-12-07T00:00:00Z"}};
}

nlohmann::json result(const SuitePoint& p, double seconds, int epochs) {
  auto point = p.to_json();
  point["epochs"] = epochs;
  return {{"status", "ok"}, {"wall_seconds", seconds}, {"point", point}};
}
}  // namespace

TEST_CASE("estimate: own history first, the nearest other machine scaled, analytic without; damaged history passed over", "[suite]") {
  const auto root = fs::temp_directory_path() / ("ffbench-estimate-" + std::to_string(::getpid()));
  fs::remove_all(root);
  const auto p = a_point();
  const auto here = machine("this cpu", 100.0);
  // Another machine at half this one's GEMM rate: 30 s there for 2 epochs -> 15 s here -> 30 s for 4 epochs.
  write(root / "other" / "manifest.json", machine("other cpu", 50.0).dump());
  write(root / "other" / "points" / (p.id + ".json"), result(p, 30.0, 2).dump());
  // Damaged history: a manifest of another shape, a result that is not JSON, a result of another shape.
  write(root / "bad1" / "manifest.json", R"({"created": 5, "cpu_model": [], "gemm_gflops": "fast"})");
  write(root / "bad1" / "points" / (p.id + ".json"), result(p, 1.0, 4).dump());
  write(root / "bad2" / "manifest.json", here.dump());
  write(root / "bad2" / "points" / (p.id + ".json"), "{\"status\": \"ok\", \"wall_seconds\": ");
  write(root / "bad3" / "manifest.json", here.dump());
  write(root / "bad3" / "points" / (p.id + ".json"), R"({"status": "ok", "wall_seconds": "12", "point": []})");
  {
    const Estimator estimator({root}, {p}, here, 100.0, 2);
    const auto e = estimator.estimate(p);
    CHECK(e.source == EstimateSource::other_machine);
    CHECK(e.seconds == Approx(30.0));
  }
  // This machine's own run: its time wins, scaled by epochs (12 s for 3 epochs -> 16 s for 4).
  write(root / "mine" / "manifest.json", here.dump());
  write(root / "mine" / "points" / (p.id + ".json"), result(p, 12.0, 3).dump());
  {
    const Estimator estimator({root}, {p}, here, 100.0, 2);
    const auto e = estimator.estimate(p);
    CHECK(e.source == EstimateSource::this_machine);
    CHECK(e.seconds == Approx(16.0));
  }
  // A point of another shape (a different batch) has no history: analytic.
  auto other = p;
  other.batch = 8;
  {
    const Estimator estimator({root}, {other}, here, 100.0, 2);
    CHECK(estimator.estimate(other).source == EstimateSource::analytic);
  }
  // A point whose dataset no registry knows (a damaged history's; the fuzz target's empty input) is
  // still estimated: an estimate is a help, never a condition.
  auto unknown = other;
  unknown.dataset = "";
  {
    const Estimator estimator({root}, {unknown}, here, 100.0, 2);
    const auto e = estimator.estimate(unknown);
    CHECK(e.source == EstimateSource::analytic);
    CHECK(e.seconds > 0.0);
  }
  fs::remove_all(root);
}
