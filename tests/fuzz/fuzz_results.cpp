// libFuzzer target: what `ffbench run` reads back from a run folder: a point's result file (is it
// finished? its point), and the estimator's history (bench/harness/estimate.cpp reads every run
// folder's manifest and the results of the suite's points). Input: a manifest and a result, split at
// the first NUL byte; both go into a run folder the estimator then reads.
#include <filesystem>
#include <stdexcept>
#include <string>

#include "bench/harness/estimate.hpp"
#include "bench/harness/suite.hpp"
#include "tests/fuzz/fuzz_common.hpp"

namespace {
const ffb::SuitePoint& the_point() {
  static const ffb::SuitePoint point = [] {
    ffb::SuitePoint p;
    p.id = "e.ff.d2-w8-b4-t1-s1";
    p.experiment = "e";
    p.algorithm = p.label = "ff";
    p.hidden = {8, 8};
    p.batch = 4;
    return p;
  }();
  return point;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto split = text.find('\0');
  const std::string manifest = split == std::string::npos ? text : text.substr(0, split);
  const std::string result = split == std::string::npos ? text : text.substr(split + 1);
  // The resume check: a result is finished when it parses and says so.
  const auto parsed = nlohmann::json::parse(result, nullptr, /*allow_exceptions=*/false);
  try {
    if (parsed.is_object() && parsed.contains("point")) (void)ffb::SuitePoint::from_json(parsed["point"]);
  } catch (const std::exception&) {
  }
  // The estimator over a run folder holding them.
  const auto runs = ffb::fuzz::scratch() / "runs";
  std::filesystem::create_directories(runs / "run" / "points");
  ffb::fuzz::write_input("runs/run/manifest.json", reinterpret_cast<const uint8_t*>(manifest.data()), manifest.size());
  ffb::fuzz::write_input("runs/run/points/" + the_point().id + ".json", reinterpret_cast<const uint8_t*>(result.data()), result.size());
  // No try here: history is a help, never a condition, so nothing in a run folder may make the
  // estimator throw (an exception escaping is a finding).
  const nlohmann::json here = {{"cpu_model", "fuzz"}, {"hardware_threads", 2}, {"peak_fma", {{"gflops", 100.0}}}, {"gemm_gflops", 90.0}};
  const ffb::Estimator estimator({runs}, {the_point()}, here, 90.0, 2);
  (void)estimator.estimate(the_point());
  return 0;
}
