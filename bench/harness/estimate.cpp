// Time estimates before a sweep runs (estimate.hpp says where each comes from).
#include "bench/harness/estimate.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "algorithms/registry.hpp"
#include "bench/harness/point_status.hpp"
#include "datasets/dataset.hpp"

namespace ffb {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
}

// A convergence point that ran E epochs takes about E / E' of the same point run for E' epochs; every
// other field must match, so a change of model, batch, options or data is a different point.
bool comparable(nlohmann::json now, nlohmann::json past, double& scale) try {
  if (!past.is_object() || !past.contains("epochs") || !past["epochs"].is_number()) return false;
  const double epochs_now = now.value("epochs", 1.0), epochs_past = past.value("epochs", 1.0);
  if (now.value("measure", "") != "convergence" && epochs_now != epochs_past) return false;
  now.erase("epochs");
  past.erase("epochs");
  if (now != past) return false;
  scale = epochs_now / std::max(1.0, epochs_past);
  return true;
} catch (const std::exception&) {  // a point of another shape is no match
  return false;
}

// Whether a point's algorithm trains layer by layer (the FF family's cost: two passes per sample, a
// goodness prediction per class) rather than with a backward pass across layers (bp, fa, dfa, pepita).
// A name that is not registered (a PyTorch peer's) counts as layer-local.
bool layer_local(const std::string& algorithm) {
  for (const auto& info : registered_algorithms())
    if (info.name == algorithm) return info.layer_local;
  return true;
}

double peak_of(const nlohmann::json& manifest) {
  const auto& peak = manifest.value("peak_fma", nlohmann::json::object());
  return peak.is_object() ? peak.value("gflops", 0.0) : 0.0;
}

// How much faster this machine is than the one of `manifest`: the ratio of the GEMM rates the two
// estimates measured where both manifests have one, else of the peak FMA rates (0 when unknown).
double speed_ratio(const nlohmann::json& manifest, const nlohmann::json& here) {
  const double gemm = manifest.value("gemm_gflops", 0.0), gemm_here = here.value("gemm_gflops", 0.0);
  if (gemm > 0.0 && gemm_here > 0.0) return gemm_here / gemm;
  const double peak = peak_of(manifest), peak_here = peak_of(here);
  return peak > 0.0 && peak_here > 0.0 ? peak_here / peak : 0.0;
}

}  // namespace

nlohmann::json cpu_identity() {
  std::ifstream in("/proc/cpuinfo");
  nlohmann::json id = nlohmann::json::object();
  for (std::string line; std::getline(in, line) && id.size() < 2;) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    if (name == "cpu family") id["cpu_family"] = std::stoi(line.substr(colon + 1));
    if (name == "model") id["cpu_model_number"] = std::stoi(line.substr(colon + 1));
  }
  return id;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string machine_key(const nlohmann::json& m) {
  return fmt::format("{}|{}|{}|{}|{}", m.value("cpu_model", "?"), m.value("cpu_family", -1), m.value("cpu_model_number", -1),
                     m.value("hardware_threads", 0), m.value("onednn_isa", "?"));
}

Estimator::Estimator(const std::vector<fs::path>& run_roots, const std::vector<SuitePoint>& points,
                     const nlohmann::json& this_manifest, double gemm_gflops, int threads)
    : gemm_gflops_(gemm_gflops), threads_(threads) {
  std::set<std::string> wanted;
  for (const auto& p : points) wanted.insert(p.id);
  // Another machine's history only from the one most like this one (the speed ratio nearest 1): a
  // mix of kinds scaled by one number each was off by 45 % on a Zen 2 (a Zen 5's AVX-512 peak overstates it).
  const std::string here = machine_key(this_manifest);
  struct Run {
    fs::path folder;
    nlohmann::json manifest;
    bool same;
    double ratio;
  };
  std::vector<Run> runs;
  for (const auto& root : run_roots) {
    if (!fs::is_directory(root)) continue;
    for (const auto& run : fs::directory_iterator(root)) {
      // History is a help, never a condition: a run folder whose manifest is unreadable or of another
      // shape is passed over (a damaged old run must not stop a new one).
      try {
        auto manifest = read_json(run.path() / "manifest.json");
        if (!manifest.is_object() || !fs::is_directory(run.path() / "points")) continue;
        const bool same = machine_key(manifest) == here;
        const double ratio = same ? 1.0 : speed_ratio(manifest, this_manifest);
        if (!(ratio > 0.0) || !std::isfinite(ratio)) continue;  // no way to scale it to this machine
        if (!same && (nearest_ratio_ == 0.0 || std::abs(std::log(ratio)) < std::abs(std::log(nearest_ratio_)))) nearest_ratio_ = ratio;
        runs.push_back({run.path(), std::move(manifest), same, ratio});
      } catch (const std::exception&) {
      }
    }
  }
  for (const auto& run : runs) {
    if (!run.same && run.ratio != nearest_ratio_) continue;
    for (const auto& id : wanted) {
      const fs::path file = run.folder / "points" / (id + ".json");
      if (!fs::exists(file)) continue;
      try {
        const auto result = read_json(file);
        if (!result.is_object() || point_status_from(result.value("status", "")) != PointStatus::ok ||
            !result.contains("wall_seconds"))
          continue;
        const double seconds = result["wall_seconds"].get<double>() / run.ratio;
        if (!std::isfinite(seconds) || seconds < 0.0) continue;
        history_.emplace(id, Past{result.value("point", nlohmann::json::object()), seconds, run.same, run.manifest.value("created", "")});
      } catch (const std::exception&) {  // an unreadable result is no history
      }
    }
  }
}

PointEstimate Estimator::estimate(const SuitePoint& point) const {
  const auto now = point.to_json();
  const Past* newest = nullptr;
  double newest_scale = 1.0;
  std::vector<double> others;
  const auto [first, last] = history_.equal_range(point.id);
  for (auto it = first; it != last; ++it) {
    double scale = 1.0;
    if (!comparable(now, it->second.point, scale)) continue;
    if (!it->second.same_machine) {
      others.push_back(it->second.seconds * scale);
    } else if (newest == nullptr || it->second.created > newest->created) {
      newest = &it->second;
      newest_scale = scale;
    }
  }
  if (newest != nullptr) return {newest->seconds * newest_scale, EstimateSource::this_machine};
  if (!others.empty()) {
    std::nth_element(others.begin(), others.begin() + others.size() / 2, others.end());
    return {others[others.size() / 2], EstimateSource::other_machine};
  }
  return {analytic_point_seconds(point, gemm_gflops_, threads_), EstimateSource::analytic};
}

std::string Estimator::explain(const std::map<EstimateSource, int>& sources) const {
  std::vector<std::string> parts;
  const auto count = [&](EstimateSource s) { return sources.count(s) ? sources.at(s) : 0; };
  if (count(EstimateSource::this_machine))
    parts.push_back(fmt::format("{} from this machine's earlier runs", count(EstimateSource::this_machine)));
  if (count(EstimateSource::other_machine))
    parts.push_back(fmt::format("{} from the most similar other machine's runs, divided by this one's speed over it ({:.2f}x: "
                                "GEMM rates where both runs measured one, else peak FMA rates)",
                                count(EstimateSource::other_machine), nearest_ratio_));
  if (count(EstimateSource::analytic))
    parts.push_back(fmt::format("{} with no history, from analytic FLOPs at 60 % of this machine's GEMM rate ({:.0f} GFLOP/s "
                                "on {} threads; good to a factor of about 1.5)",
                                count(EstimateSource::analytic), gemm_gflops_, threads_));
  std::string text;
  for (size_t i = 0; i < parts.size(); ++i) text += (i ? "; " : "") + parts[i];
  return text;
}

// The analytic FLOPs of the work a point does at a share of this machine's GEMM rate (measured just
// before), plus fixed costs per process.
// The dataset's shape. An estimate is a help, never a condition: an unregistered name (a suite's
// points are checked before this; a damaged history's are not) is costed as the image datasets.
namespace {
data::DatasetShape estimated_shape(const std::string& dataset) {
  try {
    return data::shape_of(dataset);
  } catch (const data::DataError&) {
    return data::shape_of("mnist");
  }
}
}  // namespace

double analytic_point_seconds(const SuitePoint& p, double gemm_gflops, int threads) {
  const data::DatasetShape shape = estimated_shape(p.dataset);
  double weights = 0.0;
  int64_t in = shape.input;
  for (auto h : p.hidden) {
    weights += static_cast<double>(in * h);
    in = h;
  }
  weights += static_cast<double>(in * shape.classes);
  const bool backprop_like = !layer_local(p.algorithm);
  const double train_flops = (backprop_like ? 6.0 : 8.0) * weights;  // per sample
  const double predict_flops = 2.0 * weights * (backprop_like ? 1.0 : 4.0);  // FF: goodness mode ~10 neutral passes
  const double rate = gemm_gflops * 1e9 * 0.6 * (p.engine == "torch" ? 0.45 : 1.0) *
                      std::min(1.0, static_cast<double>(p.threads) / std::max(1.0, static_cast<double>(threads)));
  const auto limited = [](int64_t n, int64_t limit) { return static_cast<double>(limit > 0 ? std::min(n, limit) : n); };
  const double train_n = limited(shape.train - p.validation, p.limit_train);
  const double test_n = limited(shape.test, p.limit_test);
  double seconds = p.engine == "torch" ? 3.0 : 0.7;  // process start, dataset load
  if (p.measure == "convergence" || p.measure == "tune") {
    const double evaluations = static_cast<double>(p.epochs) / static_cast<double>(std::max<int64_t>(1, p.eval_every));
    // Each evaluation on the validation split when there is one (the test split once at the end), else on test.
    const double evaluated = p.validation > 0 ? evaluations * static_cast<double>(p.validation) + test_n : evaluations * test_n;
    seconds += (train_n * static_cast<double>(p.epochs) * train_flops + evaluated * predict_flops) / rate;
  } else {
    const double steps = static_cast<double>(p.warmup + p.steps * p.repeats);
    seconds += static_cast<double>(p.batch) * (steps * train_flops + static_cast<double>(p.steps * p.repeats) * predict_flops) / rate;
    seconds += 1.5;  // the GEMM ceiling's timings
    seconds += static_cast<double>(p.trained_epochs) * train_n * train_flops / rate;
  }
  return seconds;
}

std::string minutes(double seconds) {
  return seconds < 120 ? fmt::format("{:.0f} s", seconds) : fmt::format("{:.1f} min", seconds / 60.0);
}

// What each experiment took against its estimate, for the points this invocation ran.
void print_time_per_experiment(const std::map<std::string, std::tuple<double, double, int>>& spent) {
  if (spent.empty()) return;
  fmt::print("ffbench run: time per experiment (points run now; estimate -> actual):\n");
  double estimated_all = 0.0, actual_all = 0.0;
  for (const auto& [experiment, entry] : spent) {
    const auto& [estimated, actual, count] = entry;
    fmt::print("  {:<32} {:>4} point(s)  {:>8} -> {:>8} ({:+.0f} %)\n", experiment, count, minutes(estimated), minutes(actual),
               estimated > 0 ? 100.0 * (actual / estimated - 1.0) : 0.0);
    estimated_all += estimated;
    actual_all += actual;
  }
  fmt::print("  {:<32}       {:>8} -> {:>8} ({:+.0f} %)\n", "all", minutes(estimated_all), minutes(actual_all),
             estimated_all > 0 ? 100.0 * (actual_all / estimated_all - 1.0) : 0.0);
}

}  // namespace ffb
