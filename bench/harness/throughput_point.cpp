// A throughput point (point_parts.hpp): the training windows, each paired with a GEMM ceiling round,
// the step's parts, inference per prediction mode and, optionally, the windows again after training.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "algorithms/backend/ceiling.hpp"
#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/matmul.hpp"
#include "bench/harness/point_parts.hpp"
#include "common/rng.hpp"
#include "datasets/dataset.hpp"

namespace ffb {

namespace {
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

using ExecutedShapes = std::vector<std::pair<MatmulShape, int64_t>>;  // each shape a step ran, and how often

// A shape as the step profile pools it (post-ops, threads and packing aside).
using ShapeKey = std::tuple<int64_t, int64_t, int64_t, bool, bool, bool>;
ShapeKey shape_key(const MatmulShape& s) { return {s.m, s.n, s.k, s.trans_a, s.trans_b, s.bf16}; }
// Per shape, each ceiling round's GFLOP/s alone in the plain layout and in the blocked one (0: not timed).
struct RoundRates {
  std::vector<double> plain, blocked;
};
using AloneRates = std::map<ShapeKey, RoundRates>;

// One round of the step's ceiling: each shape timed once (a timing of >= `seconds`, plain and, with
// `blocked`, the preferred layout), the step's matmul FLOPs over the summed times; each shape's
// rates go into `alone`. The throughput measurement takes one round right after each timed window,
// so every window has a ceiling taken seconds apart from it, not minutes: on a machine whose speed
// drifts (a shared VM drifts by 10 % from minute to minute) the window-to-round ratios compare like
// with like.
double ceiling_round(const ExecutedShapes& executed, bool blocked, double seconds, AloneRates& alone) {
  double total_flops = 0.0, total_seconds = 0.0;
  for (const auto& [s, count] : executed) {
    if (count <= 0) continue;
    const auto ceiling = measure_gemm_ceiling(s, seconds, 1, blocked);
    total_flops += s.flops() * static_cast<double>(count);
    total_seconds += s.flops() * static_cast<double>(count) / (ceiling.gflops * 1e9);
    auto& rates = alone[shape_key(s)];
    rates.plain.push_back(ceiling.plain_gflops);
    rates.blocked.push_back(ceiling.blocked_gflops);
  }
  return total_seconds > 0 ? total_flops / total_seconds * 1e-9 : 0.0;
}

// A shape's runs in a timed section, pooled (primitives that differ only in post-ops or threads).
struct Pooled {
  double flops = 0.0, seconds = 0.0, packed_flops = 0.0;  // packed: runs that read B packed (inference)
};

// The same GEMMs alone (the median ceiling round rates), in the layouts the section ran them in
// (plain, packed where inference reads packed weights): their seconds, 0 when not timed alone.
double alone_seconds_of(const AloneRates& alone, const ShapeKey& key, const Pooled& acc) {
  const auto found = alone.find(key);
  if (found == alone.end() || found->second.plain.empty()) return 0.0;
  const double plain = median(found->second.plain), packed_rate = median(found->second.blocked);
  const double packed = acc.flops > 0 ? acc.packed_flops / acc.flops : 0.0;  // inference may read B packed
  const double time = acc.flops * (1 - packed) / (plain * 1e9) + (packed > 0 && packed_rate > 0 ? acc.flops * packed / (packed_rate * 1e9) : 0.0);
  return plain > 0 && time > 0 ? time : 0.0;
}

// One pooled shape of a section's profile, with its ceiling from `roofline` (measure_gemm_roofline).
nlohmann::json shape_profile(const ShapeKey& key, const Pooled& acc, double wall, const nlohmann::json& roofline) {
  const auto& [m, n, k, ta, tb, bf16] = key;
  double ceiling = 0.0, ceiling_median = 0.0;
  for (const auto& c : roofline["shapes"])
    if (c["m"] == m && c["n"] == n && c["k"] == k && c["trans_a"] == ta && c["trans_b"] == tb && c["bf16"] == bf16) {
      ceiling = c["gflops"].get<double>();
      ceiling_median = c["median_gflops"].get<double>();
    }
  return {{"m", m}, {"n", n}, {"k", k}, {"trans_a", ta}, {"trans_b", tb}, {"bf16", bf16},
          {"time_share", acc.seconds / wall}, {"gflops_in_step", acc.seconds > 0 ? acc.flops / acc.seconds * 1e-9 : 0.0},
          {"ceiling_gflops", ceiling}, {"ceiling_median_gflops", ceiling_median},
          {"packed_b_share", acc.flops > 0 ? acc.packed_flops / acc.flops : 0.0}};
}

// Where a timed section's wall time went: inside the GEMMs (and how fast they ran there, against the
// same shapes' ceiling) or outside them (our kernels, the optimizer, OpenMP's fork/join). Made before
// the section; profile() after it.
class GemmClock {
 public:
  explicit GemmClock(const MatmulCache& matmuls) : shapes_(matmuls.run_counts()), before_(matmuls.run_seconds_each()) {}

  // `alone`: the ceiling rounds' per-shape rates (taken right after each window), for the GEMMs'
  // speed in the step against the same shapes alone in the layouts the step runs them in.
  nlohmann::json profile(const MatmulCache& matmuls, double section_seconds, const nlohmann::json& roofline,
                         const AloneRates& alone = {}) const {
    const Runs runs = pooled(matmuls);
    const double wall = std::max(section_seconds, 1e-12);
    nlohmann::json shapes = nlohmann::json::array();
    double alone_seconds = 0.0;  // the same GEMMs alone (median round rates), in the step's layouts
    bool every_shape_alone = !alone.empty();
    for (const auto& [key, acc] : runs.per_shape) {
      const double alone_time = alone_seconds_of(alone, key, acc);
      if (alone_time > 0) {
        alone_seconds += alone_time;
      } else {
        every_shape_alone = false;
      }
      shapes.push_back(shape_profile(key, acc, wall, roofline));
      if (alone_time > 0) shapes.back()["alone_gflops"] = acc.flops / alone_time * 1e-9;
    }
    const double rate = runs.seconds > 0 ? runs.flops / runs.seconds * 1e-9 : 0.0;
    nlohmann::json result = {{"shapes", shapes}, {"concurrent_callers", runs.concurrent}, {"gemm_time_share", runs.seconds / wall}, {"gemm_gflops_in_step", rate},
            {"gemm_fraction_of_ceiling_in_step", rate / std::max(roofline["gflops"].get<double>(), 1e-12)},
            {"gemm_fraction_of_ceiling_median_in_step", rate / std::max(roofline["median_gflops"].get<double>(), 1e-12)},
            {"method", "wall time inside Matmul::run over the timed windows' wall time; the GEMMs' rate there over the same "
                       "shapes' ceiling. With concurrent_callers (a schedule that runs single-thread GEMMs on several threads "
                       "at once) the times are summed over the threads, so the share can exceed 1 and the rate is one "
                       "thread's: neither compares with the all-thread ceiling"}};
    // The same GEMMs alone, timed in the rounds after the windows, in the layouts the step runs
    // (plain, packed where inference reads packed weights): their time over the step's GEMM time.
    if (every_shape_alone && runs.seconds > 0) {
      result["gemm_rate_vs_alone"] = alone_seconds / runs.seconds;
    }
    return result;
  }

 private:
  // The runs since the clock was made, per shape (so a miss can be traced to the shapes that lose)
  // and in all.
  struct Runs {
    std::map<ShapeKey, Pooled> per_shape;
    double flops = 0.0, seconds = 0.0;
    bool concurrent = false;  // primitives made for fewer threads than the process's run side by side
  };
  Runs pooled(const MatmulCache& matmuls) const {
    Runs runs;
    const auto after = matmuls.run_seconds_each();
    for (size_t i = 0; i < shapes_.size() && i < after.size(); ++i) {
      const auto& s = shapes_[i].first;
      const double count = static_cast<double>(after[i].second - before_[i].second);
      if (count <= 0) continue;
      runs.concurrent = runs.concurrent || (s.threads > 0 && s.threads < threads());
      auto& acc = runs.per_shape[shape_key(s)];
      acc.flops += s.flops() * count;
      acc.seconds += after[i].first - before_[i].first;
      if (s.packed_b) acc.packed_flops += s.flops() * count;
      runs.flops += s.flops() * count;
      runs.seconds += after[i].first - before_[i].first;
    }
    return runs;
  }

  ExecutedShapes shapes_;
  std::vector<std::pair<double, int64_t>> before_;
};

// Each timed window's rate against the ceiling round taken right after it; the median of those
// ratios is the fraction of the ceiling with the machine's drift between the two paired out.
nlohmann::json paired_fractions(const std::vector<double>& rates, const std::vector<double>& rounds, double flops_per_sample) {
  std::vector<double> fractions, ceilings;
  for (size_t r = 0; r < rates.size() && r < rounds.size(); ++r) {
    if (rounds[r] <= 0.0) continue;
    fractions.push_back(rates[r] * flops_per_sample * 1e-9 / rounds[r]);
    ceilings.push_back(rounds[r]);
  }
  if (fractions.empty()) return nullptr;
  return {{"roofline_fraction", median(fractions)}, {"fractions", fractions}, {"ceiling_gflops", ceilings},
          {"method", "each timed window against one ceiling round taken right after it (every shape timed once, >= 10 ms, "
                     "the faster layout as in the ceiling); the median of the window-to-round ratios"}};
}

// A ceiling timed before the windows, raised to the fastest paired round timed after them where one
// was faster (the host sped up later: a ceiling that is beaten is none); the fraction measured against
// it and the profile's GEMM fraction follow, and the first figure stays as before_windows_gflops. The
// report applies the same to results written before this (scripts/reporting/run.py fastest_ceiling).
void raise_to_fastest_round(nlohmann::json& holder, const char* key, nlohmann::json& measured, nlohmann::json* profile) {
  if (!holder.contains(key) || !holder[key].is_number() || !measured.contains("paired") || !measured["paired"].is_object()) return;
  const double ceiling = holder[key].get<double>();
  double fastest = 0.0;
  for (const auto& round : measured["paired"].value("ceiling_gflops", nlohmann::json::array()))
    if (round.is_number()) fastest = std::max(fastest, round.get<double>());
  if (ceiling <= 0.0 || fastest <= ceiling || !measured["roofline_fraction"].is_number()) return;
  holder["before_windows_gflops"] = ceiling;
  holder[key] = fastest;
  measured["roofline_fraction"] = measured["roofline_fraction"].get<double>() * ceiling / fastest;
  if (profile != nullptr && profile->contains("gemm_fraction_of_ceiling_in_step"))
    (*profile)["gemm_fraction_of_ceiling_in_step"] = (*profile)["gemm_fraction_of_ceiling_in_step"].get<double>() * ceiling / fastest;
}

// The training windows again, after `trained_epochs` epochs of real training on the point's dataset
// and on its batches: what training runs at once weights, moments and activations have moved away
// from their initial values (subnormals, dead units and sparsity appear only then).
nlohmann::json time_after_training(const SuitePoint& point, Algorithm& algorithm, double rate_at_init,
                                   const ProgressFn& progress) {
  data::DatasetSpec spec;
  spec.name = point.dataset;
  spec.limit_train = point.limit_train;
  spec.limit_test = 1;
  spec.standardize = point.standardize;
  const auto data = data::load(spec);
  const int64_t b = point.batch;
  data::Batcher batcher(data.train, b, point.seed * 7919 + 17, true, true);
  std::vector<float> x(static_cast<size_t>(b * data.train.d));
  std::vector<int32_t> y(static_cast<size_t>(b));
  const auto start = Clock::now();
  int64_t steps = 0;
  for (int64_t epoch = 0; epoch < point.trained_epochs; ++epoch) {
    algorithm.begin_epoch(epoch, point.trained_epochs);
    batcher.start_epoch(epoch);
    while (batcher.next(x.data(), y.data()) > 0) {
      if (!std::isfinite(algorithm.train_step(x.data(), y.data()).loss))
        throw Diverged(fmt::format("diverged: loss is not finite in training epoch {} before the timed windows", epoch + 1));
      ++steps;
    }
    if (progress) progress(1.0, fmt::format("trained {} epoch(s) before timing", epoch + 1));
  }
  const double training_seconds = since(start);
  // Timed windows on the next batches of the dataset (wrapping to a new epoch's order).
  std::vector<double> rates;
  int64_t epoch = point.trained_epochs;
  auto next_batch = [&]() {
    if (batcher.next(x.data(), y.data()) == 0) {
      batcher.start_epoch(++epoch);
      batcher.next(x.data(), y.data());
    }
  };
  for (int64_t w = 0; w < point.warmup; ++w) {
    next_batch();
    algorithm.train_step(x.data(), y.data());
  }
  for (int64_t r = 0; r < point.repeats; ++r) {
    double seconds = 0.0;
    for (int64_t s = 0; s < point.steps; ++s) {
      next_batch();  // copying a batch is outside the timed step
      const auto step_start = Clock::now();
      const auto stats = algorithm.train_step(x.data(), y.data());
      seconds += since(step_start);
      if (!std::isfinite(stats.loss)) throw Diverged("diverged: loss is not finite during throughput steps");
    }
    rates.push_back(static_cast<double>(point.steps * b) / seconds);
  }
  const double rate = median(rates);
  return {{"epochs", point.trained_epochs}, {"training_steps", steps}, {"training_seconds", training_seconds},
          {"training_samples_per_s", static_cast<double>(steps * b) / std::max(training_seconds, 1e-9)},
          {"samples_per_s", rates}, {"samples_per_s_median", rate}, {"ratio_to_init", rate / rate_at_init},
          {"census", census_json(value_census(algorithm.arena()))}};
}

// Dense work does not depend on the pixel values: uniform random inputs and labels stand in for
// data, so the process's memory is the model's and the runtime's, not a dataset's. kCount batches
// of B, taken in turn.
struct RandomBatches {
  static constexpr int64_t kCount = 8;
  RandomBatches(const SuitePoint& point, const ModelSpec& spec)
      : b(point.batch), input(spec.input), x(static_cast<size_t>(kCount * b * input)), y(static_cast<size_t>(kCount * b)) {
    Rng rng(point.seed);
    for (auto& v : x) v = rng.uniform();
    for (auto& v : y) v = static_cast<int32_t>(rng.below(static_cast<uint64_t>(spec.classes)));
  }
  const float* inputs(int64_t i) const { return x.data() + i * b * input; }
  // A training step on the next batch.
  StepStats step(Algorithm& algorithm) {
    const int64_t i = cursor++ % kCount;
    return algorithm.train_step(inputs(i), y.data() + i * b);
  }
  int64_t b, input, cursor = 0;
  std::vector<float> x;
  std::vector<int32_t> y;
};

// One step to learn which matmul shapes a step runs (and how often). Depth steps first: a pipelined
// schedule runs every layer only once its pipeline is full.
ExecutedShapes step_shapes(Algorithm& algorithm, RandomBatches& batches, size_t depth) {
  for (size_t i = 0; i < depth; ++i) batches.step(algorithm);
  const auto before = algorithm.matmuls().run_counts();
  batches.step(algorithm);
  auto after = algorithm.matmuls().run_counts();
  for (size_t i = 0; i < after.size(); ++i) after[i].second -= before[i].second;
  return after;
}

// The timed training windows and what is taken right after each.
struct TrainWindows {
  std::vector<double> rates;         // samples/s per window
  std::vector<double> rounds;        // the ceiling again right after each window (paired with it)
  std::vector<double> shared_write;  // and (several threads) the machine's cost of rewriting shared data
  AloneRates alone;                  // and each shape's rates in it
  double seconds = 0.0;              // the windows' wall time
  int64_t peak_live = 0;             // peak live activation bytes
};

TrainWindows time_train_windows(const SuitePoint& point, Algorithm& algorithm, RandomBatches& batches,
                                const ExecutedShapes& executed, bool everything, double total_windows,
                                const ProgressFn& progress) {
  TrainWindows windows;
  for (int64_t r = 0; r < point.repeats; ++r) {
    const auto start = Clock::now();
    for (int64_t s = 0; s < point.steps; ++s) {
      const auto stats = batches.step(algorithm);
      if (!std::isfinite(stats.loss)) throw Diverged("diverged: loss is not finite during throughput steps");
    }
    const double window = since(start);
    windows.seconds += window;
    windows.peak_live = std::max(windows.peak_live, algorithm.arena().peak_live_activation_bytes());
    windows.rates.push_back(static_cast<double>(point.steps * point.batch) / window);
    // The paired rounds and the shared-write pass are the report's diagnostics; scope "train" (the
    // regression check, which reads neither) leaves them out, about a quarter of its time.
    if (everything) {
      windows.rounds.push_back(ceiling_round(executed, true, 0.01, windows.alone));
      if (threads() > 1) windows.shared_write.push_back(measure_shared_write(650000, 3).ratio());
    }
    if (progress) progress(static_cast<double>(r + 1) / total_windows, fmt::format("train {:.0f} samples/s", windows.rates.back()));
  }
  return windows;
}

// The step's parts (the algorithm's own lap clock on the step's thread), per step over the timed
// windows: where the time outside the products goes, and how each part scales with threads.
nlohmann::json step_parts_json(const Algorithm& algorithm, const std::vector<double>& phases_before, double steps,
                               double windows_seconds) {
  nlohmann::json parts = nlohmann::json::array();
  double summed = 0.0;
  for (size_t i = 0; i < algorithm.phases().names().size(); ++i) {
    const double us = (algorithm.phases().seconds()[i] - phases_before[i]) / steps * 1e6;
    summed += us;
    if (us > 0.0) parts.push_back({{"part", algorithm.phases().names()[i]}, {"us_per_step", us}});
  }
  return {{"parts", parts}, {"summed_us_per_step", summed}, {"step_us", windows_seconds / steps * 1e6},
          {"method", "the algorithm's lap clock: the wall time from the end of one part to the end of the "
                     "next, on the thread running the step, summed over layers, per step over the timed "
                     "windows; the parts sum to the step but for the loop around it"}};
}

// The "train" figures of the windows; roofline_fraction against `roofline` GFLOP/s when the GEMMs were timed.
nlohmann::json train_json(const TrainWindows& windows, int64_t b, double train_flops, bool timed_gemm, double roofline) {
  const auto& rates = windows.rates;
  const double train_rate = median(rates);
  nlohmann::json train = {{"samples_per_s", rates}, {"samples_per_s_median", train_rate},
                          {"samples_per_s_min", *std::min_element(rates.begin(), rates.end())},
                          {"samples_per_s_max", *std::max_element(rates.begin(), rates.end())},
                          {"gflops", train_rate * train_flops * 1e-9},
                          {"roofline_fraction", timed_gemm ? nlohmann::json(train_rate * train_flops * 1e-9 / roofline) : nlohmann::json()},
                          {"step_ms_median", 1e3 * static_cast<double>(b) / train_rate}};
  train["paired"] = paired_fractions(rates, windows.rounds, train_flops);
  if (!windows.shared_write.empty())
    train["shared_write"] = {
        {"ratios", windows.shared_write}, {"median_ratio", median(windows.shared_write)},
        {"method", "after each timed window: a write pass over 650,000 floats after every thread read all of them, "
                   "over the same pass after each thread read only its own share (fastest of 3 each; "
                   "measure_shared_write): what rewriting data the other cores hold costs on this machine now"}};
  return train;
}

// Inference in prediction mode `m` (of `modes`): its windows over the batches, each paired with a
// ceiling round of the shapes this mode runs. `scores` holds B x K.
nlohmann::json time_inference(const SuitePoint& point, Algorithm& algorithm, const RandomBatches& batches,
                              const std::vector<std::string>& modes, size_t m, double total_windows,
                              const ProgressFn& progress, std::vector<float>& scores) {
  const int64_t b = point.batch;
  const int mode = static_cast<int>(m);
  const auto counts_before = algorithm.matmuls().run_counts();
  algorithm.scores(batches.inputs(0), b, mode, scores.data());  // warm-up, and the shapes this mode runs
  auto counts = algorithm.matmuls().run_counts();
  for (size_t i = 0; i < counts.size(); ++i) counts[i].second -= counts_before[i].second;
  const auto mode_roofline = measure_gemm_roofline(counts);
  std::vector<double> mode_rates;
  const GemmClock mode_clock(algorithm.matmuls());
  double mode_seconds = 0.0;
  std::vector<double> mode_rounds;
  AloneRates mode_alone;
  for (int64_t r = 0; r < point.repeats; ++r) {
    const auto start = Clock::now();
    for (int64_t s = 0; s < point.steps; ++s)
      algorithm.scores(batches.inputs(s % RandomBatches::kCount), b, mode, scores.data());
    const double window = since(start);
    mode_seconds += window;
    mode_rates.push_back(static_cast<double>(point.steps * b) / window);
    mode_rounds.push_back(ceiling_round(counts, true, 0.01, mode_alone));
    if (progress)
      progress((static_cast<double>(point.repeats) * (1 + static_cast<double>(m)) + static_cast<double>(r + 1)) / total_windows,
               fmt::format("predict {} {:.0f} samples/s", modes[m], mode_rates.back()));
  }
  const double rate = median(mode_rates);
  const double flops = algorithm.flops_per_sample(Phase::inference, mode);
  return {{"samples_per_s", mode_rates}, {"samples_per_s_median", rate},
          {"gflops", rate * flops * 1e-9}, {"roofline_gflops", mode_roofline["gflops"]},
          {"roofline_fraction", rate * flops * 1e-9 / mode_roofline["gflops"].get<double>()},
          {"profile", mode_clock.profile(algorithm.matmuls(), mode_seconds, mode_roofline, mode_alone)},
          {"paired", paired_fractions(mode_rates, mode_rounds, flops)}};
}

}  // namespace

nlohmann::json run_throughput(const SuitePoint& point, Algorithm& algorithm, const ModelSpec& spec,
                              const ProgressFn& progress) {
  RandomBatches batches(point, spec);
  nlohmann::json result;
  const double train_flops = algorithm.flops_per_sample(Phase::train);
  // The shapes one step runs, then their plain-GEMM speed: the roofline.
  const ExecutedShapes after = step_shapes(algorithm, batches, spec.hidden.size());
  const bool everything = point.scope == "all";
  // scope "steps" (the regression check's instruction counts under valgrind, where a timed GEMM
  // ceiling costs tens of seconds and means nothing): the steps alone, no roofline.
  const bool timed_gemm = point.scope != "steps";
  result["scope"] = point.scope;
  if (timed_gemm) result["roofline"] = measure_gemm_roofline(after, everything);
  if (everything) result["peak_fma"] = peak_fma_json();
  const double roofline = timed_gemm ? result["roofline"]["gflops"].get<double>() : 0.0;
  for (int64_t w = 0; w < point.warmup; ++w) batches.step(algorithm);
  const double total_windows =
      static_cast<double>(point.repeats) * (1 + (everything ? static_cast<double>(algorithm.prediction_modes().size()) : 0.0));
  const GemmClock train_clock(algorithm.matmuls());
  const std::vector<double> phases_before = algorithm.phases().seconds();
  const TrainWindows windows = time_train_windows(point, algorithm, batches, after, everything, total_windows, progress);
  const double train_rate = median(windows.rates);
  if (timed_gemm) result["step_profile"] = train_clock.profile(algorithm.matmuls(), windows.seconds, result["roofline"], windows.alone);
  if (!algorithm.phases().names().empty())
    result["step_parts"] = step_parts_json(algorithm, phases_before, static_cast<double>(point.repeats * point.steps), windows.seconds);
  result["census_at_init"] = census_json(value_census(algorithm.arena()));
  result["train"] = train_json(windows, point.batch, train_flops, timed_gemm, roofline);
  result["peak_live_activations"] = windows.peak_live;
  const auto modes = everything ? algorithm.prediction_modes() : std::vector<std::string>{};
  std::vector<float> scores(static_cast<size_t>(point.batch * spec.classes));
  for (size_t m = 0; m < modes.size(); ++m)
    result["inference"][modes[m]] = time_inference(point, algorithm, batches, modes, m, total_windows, progress, scores);
  if (point.trained_epochs > 0) result["train_after_training"] = time_after_training(point, algorithm, train_rate, progress);
  if (result.contains("roofline"))
    raise_to_fastest_round(result["roofline"], "gflops", result["train"],
                           result.contains("step_profile") ? &result["step_profile"] : nullptr);
  if (result.contains("inference"))
    for (auto& [name, mode] : result["inference"].items())
      raise_to_fastest_round(mode, "roofline_gflops", mode, mode.contains("profile") ? &mode["profile"] : nullptr);
  return result;
}

}  // namespace ffb
