// ffbench run: expands a suite into points and runs each in a fresh process (`ffbench point`), so
// every point's peak RSS is its own. Results go to reports/runs/<time>-<revision>/; every file is
// written atomically; --resume skips points already finished; a crashed point is recorded as
// failed and the sweep goes on.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/matmul.hpp"
#include "bench/build_info.hpp"
#include "bench/distributed/mpi_communicator.hpp"
#include "bench/ffbench/commands.hpp"
#include "bench/harness/estimate.hpp"
#include "bench/ffbench/link.hpp"
#include "bench/ffbench/point_process.hpp"
#include "bench/ffbench/run_checks.hpp"
#include "bench/harness/point.hpp"
#include "bench/harness/point_status.hpp"
#include "bench/harness/suite.hpp"
#include "datasets/dataset.hpp"

namespace ffb {

namespace fs = std::filesystem;

namespace {
// --only: comma-separated patterns; an id is selected when it contains one of them, or, for a pattern
// starting with '^', when it starts with the rest (so '^ff-matlab' leaves out 'fashion-ff-matlab').
bool selected(const std::string& id, const std::string& only) {
  if (only.empty()) return true;
  size_t start = 0;
  while (start <= only.size()) {
    const size_t end = std::min(only.find(',', start), only.size());
    const std::string pattern = only.substr(start, end - start);
    if (!pattern.empty() && pattern[0] == '^' ? id.rfind(pattern.substr(1), 0) == 0
                                              : !pattern.empty() && id.find(pattern) != std::string::npos)
      return true;
    start = end + 1;
  }
  return false;
}


std::string shell_output(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[512];
    while (fgets(buffer, sizeof buffer, pipe)) out += buffer;
    pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json manifest(const Suite& suite, const std::string& suite_path) {
  const std::string source = FFB_SOURCE_DIR;
  std::string revision = shell_output("git -C '" + source + "' rev-parse HEAD 2>/dev/null");
  const bool dirty = !shell_output("git -C '" + source + "' status --porcelain --untracked-files=no 2>/dev/null").empty();
  const std::string built = build_revision();
  if (revision.empty()) revision = built;
  // The tree's revision names the results only if the binary was built from it: warn when not (a
  // binary kept from an older build, or one rebuilt from uncommitted changes).
  const bool same_commit = revision.rfind(built.substr(0, built.find('-')), 0) == 0;
  if (!same_commit || built.find("-dirty") != std::string::npos)
    std::cerr << fmt::format("ffbench run: warning: this binary was built from {}, the source tree is at {}{}: "
                             "rebuild (cmake --build) so the manifest's revision is the code that ran\n",
                             built, revision.substr(0, 12), dirty ? " (with uncommitted changes)" : "");
  std::vector<uint64_t> seeds;
  for (const auto& p : suite.points)
    if (std::find(seeds.begin(), seeds.end(), p.seed) == seeds.end()) seeds.push_back(p.seed);
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"schema_version", kResultSchemaVersion},
          {"created", stamp},
          {"revision", revision},
          {"dirty", dirty},
          {"binary_revision", built},
          {"compiler", FFB_COMPILER},
          {"compiler_flags", FFB_CXX_FLAGS},
          {"build_type", FFB_BUILD_TYPE},
          {"onednn_version", onednn_version()},
          {"onednn_isa", onednn_isa()},
          {"threading", threading_description()},
          {"denormals", to_string(denormals())},
          {"peak_fma", peak_fma_json()},
          {"memory_bandwidth", memory_bandwidth_json()},
          {"hardware_threads", std::thread::hardware_concurrency()},
          {"cpu_model", cpu_model()},
          {"memory_total_kb", shell_output("awk '/MemTotal/ {print $2}' /proc/meminfo")},
          {"hostname", shell_output("hostname")},
          {"suite_name", suite.name},
          {"suite_path", suite_path},
          {"dataset_requested", suite.dataset},
          {"dataset", suite.resolved_dataset},
          {"seeds", seeds},
          {"points", suite.points.size()},
          {"suite", suite.verbatim},
          // The registered algorithms (summaries, options, distributed modes): the report reads them here.
          {"algorithms", list_json()["algorithms"]}};
}

std::string run_folder_name(const std::string& revision) {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::gmtime(&now));
  return fmt::format("{}-{}", stamp, revision.substr(0, 10));
}

// The result of a point that did not run or did not finish: its status and why.
nlohmann::json outcome(const SuitePoint& point, PointStatus status, const std::string& detail) {
  return {{"schema_version", kResultSchemaVersion}, {"id", point.id}, {"point", point.to_json()},
          {"status", to_string(status)}, {"detail", detail}};
}

// Records the emulated link a point ran over (rate, its ping-pong) in the point's result.
void add_link(const fs::path& result, const nlohmann::json& link) {
  if (!fs::exists(result)) return;
  auto j = nlohmann::json::parse(read_file(result), nullptr, false);
  if (j.is_discarded()) return;
  j["link"] = link;
  write_atomic(result.string(), j.dump(2) + "\n");
}

// A run's folder and suite: a resumed run's own copy, or the suite of a new run (its folder made
// later, by start_run; a dry run has none).
struct OpenedRun {
  fs::path dir;
  Suite suite;
  std::string suite_path;
};

OpenedRun open_run(const RunArgs& args, const std::string& source) {
  OpenedRun run;
  if (!args.resume.empty()) {
    run.dir = args.resume;
    if (!fs::exists(run.dir / "manifest.json") || !fs::exists(run.dir / "suite.json"))
      throw std::invalid_argument(fmt::format("--resume {}: not a run folder (no manifest.json and suite.json); give a "
                                              "folder under reports/runs/", run.dir.string()));
    run.suite_path = (run.dir / "suite.json").string();
    run.suite = load_suite(run.suite_path, &data::is_available);
    if (!args.suite.empty()) {
      const auto given = load_suite(resolve_suite_path(args.suite, source), &data::is_available);
      if (given.text != run.suite.text)
        throw std::invalid_argument(fmt::format("suite '{}' differs from the one {} started with; resume runs the run's "
                                                "own copy: drop the suite argument or start a new run", args.suite,
                                                run.dir.string()));
    }
    fmt::print("ffbench run: resuming {} ({} points)\n", run.dir.string(), run.suite.points.size());
    return run;
  }
  if (args.suite.empty()) throw std::invalid_argument("ffbench run needs a SUITE (a name from bench/suites/ or a path), or --resume RUN");
  run.suite_path = resolve_suite_path(args.suite, source);
  run.suite = load_suite(run.suite_path, &data::is_available);
  if (args.dry_run) {
    fmt::print("ffbench run --dry-run: suite '{}' ({} points) on {}; nothing is run or written\n", run.suite.name,
               run.suite.points.size(), run.suite.resolved_dataset);
    run.dir = fs::path("/nonexistent-dry-run");  // no point is finished there
  }
  return run;
}

// A new run's folder under --out-dir (or reports/runs), with the suite as read and the manifest.
void start_run(const RunArgs& args, const std::string& source, double gemm, const std::vector<std::string>& datasets,
               OpenedRun& run) {
  auto m = manifest(run.suite, run.suite_path);
  m.update(cpu_identity());
  m["gemm_gflops"] = gemm;  // another machine's estimate scales this run's times by it
  m["dataset_files"] = to_json(fingerprint_datasets(datasets));
  const fs::path base = args.out_dir.empty() ? fs::path(source) / "reports" / "runs" : fs::path(args.out_dir);
  run.dir = base / run_folder_name(m["revision"].get<std::string>());
  for (int n = 2; fs::exists(run.dir); ++n)  // two runs started in the same second
    run.dir = base / fmt::format("{}-{}", run_folder_name(m["revision"].get<std::string>()), n);
  // Made whole beside its name, then renamed into place: a run killed here leaves no folder that
  // --resume would refuse (at most a "<name>.partial" with no result in it).
  const fs::path partial = run.dir.string() + ".partial";
  fs::create_directories(partial / "points");
  write_atomic((partial / "suite.json").string(), run.suite.text);
  write_atomic((partial / "manifest.json").string(), m.dump(2) + "\n");
  fs::rename(partial, run.dir);
  const Suite& suite = run.suite;
  fmt::print("ffbench run: suite '{}' ({} points) on {}{} -> {}\n", suite.name, suite.points.size(),
             suite.resolved_dataset,
             suite.resolved_dataset != suite.dataset ? fmt::format(" ({} is not fetched: run scripts/fetch_data.sh)", suite.dataset) : "",
             run.dir.string());
}

// The estimate of what is left to run, before anything runs, per point into `estimates`. A dry run
// lists it per experiment; a long sweep needs a yes. Returns whether the sweep starts.
bool estimate_and_confirm(const RunArgs& args, const std::string& source, const OpenedRun& run, double gemm,
                          std::map<std::string, PointEstimate>& estimates) {
  nlohmann::json machine = {{"cpu_model", cpu_model()}, {"hardware_threads", std::thread::hardware_concurrency()},
                            {"onednn_isa", onednn_isa()}, {"peak_fma", peak_fma_json()}, {"gemm_gflops", gemm}};
  machine.update(cpu_identity());
  const Estimator estimator({fs::path(source) / "reports" / "runs", fs::path(source) / "reports" / "published"},
                            run.suite.points, machine, gemm, threads());
  double estimate = 0.0;
  int to_run = 0;
  std::map<EstimateSource, int> sources;
  std::map<std::string, std::pair<int, double>> by_experiment;
  for (const auto& point : run.suite.points) {
    if (!selected(point.id, args.only) || (!args.dry_run && finished(run.dir / "points" / (point.id + ".json")))) continue;
    estimates[point.id] = estimator.estimate(point);
    estimate += estimates[point.id].seconds;
    ++sources[estimates[point.id].source];
    auto& [count, seconds] = by_experiment[point.experiment];
    ++count;
    seconds += estimates[point.id].seconds;
    ++to_run;
  }
  fmt::print("ffbench run: {} point(s) to run, estimated {}: {}\n", to_run, minutes(estimate), estimator.explain(sources));
  if (args.dry_run) {
    for (const auto& [experiment, entry] : by_experiment)
      fmt::print("  {:<32} {:>4} point(s)  {}\n", experiment, entry.first, minutes(entry.second));
    return false;
  }
  if ((estimate > 3 * 3600.0 || to_run > 500) && !args.yes) {
    if (!isatty(STDIN_FILENO))
      throw std::invalid_argument(fmt::format("this sweep would run {} point(s) for about {}: pass --yes to start it, or "
                                              "--only to run a part", to_run, minutes(estimate)));
    fmt::print("continue? [y/N] ");
    std::fflush(stdout);
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") {
      fmt::print("ffbench run: not started; resume later with: ffbench run --resume {}\n", run.dir.string());
      return false;
    }
  }
  return true;
}

// A point's result document from the run folder, or null when it has none (or an unreadable one).
nlohmann::json point_result(const fs::path& run_dir, const std::string& id) {
  const fs::path path = run_dir / "points" / (id + ".json");
  if (!fs::exists(path)) return nullptr;
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const std::exception&) {
    return nullptr;
  }
}

// The sweep over a run's points: what every point needs and what the run counts.
struct Sweep {
  const RunArgs& args;
  const std::string& source;
  const fs::path& dir;
  const Suite& suite;
  std::map<std::string, PointEstimate>& estimates;
  std::vector<DataFileFingerprint> data_files;  // as the run's first start found them
  std::chrono::steady_clock::time_point start;
  int total = 0, failures = 0, done_before = 0, unresolved = 0;
  std::map<std::string, std::tuple<double, double, int>> spent;  // experiment -> estimated, actual seconds, points run
};

// A point's process that did not exit cleanly or wrote no result: recorded as failed, the sweep goes on.
// Returns false when it was a stop asked of the sweep (the run then ends as interrupted).
bool record_failure(Sweep& sweep, const SuitePoint& point, int index, int status, const fs::path& result,
                    const fs::path& stderr_file) {
  ++sweep.failures;
  const std::string why = WIFSIGNALED(status) ? fmt::format("killed by signal {}", WTERMSIG(status))
                                              : fmt::format("exit code {}", WEXITSTATUS(status));
  const std::string errors = tail(read_file(stderr_file), 8);
  if (stop_signal() != 0 || (WIFSIGNALED(status) && (WTERMSIG(status) == SIGINT || WTERMSIG(status) == SIGTERM))) {
    fmt::print(stderr, "ffbench run: interrupted during {}; finish with: ffbench run --resume {}\n", point.id,
               sweep.dir.string());
    return false;
  }
  if (!fs::exists(result)) {
    write_atomic(result.string(), outcome(point, PointStatus::failed, why + ": " + errors).dump(2) + "\n");
  }
  fmt::print("[{}/{}] {} FAILED ({}): {}\n", index, sweep.total, point.id, why, errors);
  return true;
}

// Runs point `index` (1-based) of the sweep in its own process, unless it is finished, not selected,
// its data changed, or it waits for an earlier rung. Returns false when the sweep must stop.
bool sweep_point(Sweep& sweep, SuitePoint point, int index) {
  const int total = sweep.total;
  if (stop_signal() != 0) {
    fmt::print(stderr, "ffbench run: stopped (signal {}) before {}; finish with: ffbench run --resume {}\n",
               stop_signal(), point.id, sweep.dir.string());
    return false;
  }
  const fs::path result = sweep.dir / "points" / (point.id + ".json");
  if (finished(result)) {
    ++sweep.done_before;
    fmt::print("[{}/{}] {} already finished\n", index, total, point.id);
    return true;
  }
  if (!selected(point.id, sweep.args.only)) return true;
  if (const auto why = why_not_finished(result); why != "no result yet")
    fmt::print("[{}/{}] {}: {}: running it again\n", index, total, point.id, why);
  if (const auto changed = changed_dataset_file(sweep.data_files); !changed.empty()) {
    ++sweep.failures;
    write_atomic(result.string(), outcome(point, PointStatus::failed, changed).dump(2) + "\n");
    fmt::print("[{}/{}] {} FAILED, not run: {}\n", index, total, point.id, changed);
    return true;
  }
  // A tune point above rung 0 takes its configuration from the rung below's results.
  std::string waiting;
  if (!resolve_tune_point(point, sweep.suite.points, [&](const std::string& id) { return point_result(sweep.dir, id); }, waiting)) {
    ++sweep.unresolved;
    fmt::print("[{}/{}] {} not run yet: {}\n", index, total, point.id, waiting);
    return true;
  }
  const fs::path point_file = sweep.dir / "points" / (point.id + ".point.json");
  write_atomic(point_file.string(), point.to_json().dump(2) + "\n");
  const fs::path stderr_file = sweep.dir / "points" / (point.id + ".stderr");
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - sweep.start).count();
  PointLaunch launch = launch_of(point, sweep.source, sweep.dir, index, sweep.total, elapsed, point_file, result);
  if (!launch.why_not.empty()) {
    write_atomic(result.string(), outcome(point, PointStatus::skipped, launch.why_not).dump(2) + "\n");
    fmt::print("[{}/{}] {} skipped: {}\n", index, total, point.id, launch.why_not);
    return true;
  }
  std::fflush(stdout);
  const auto point_start = std::chrono::steady_clock::now();
  const int status = spawn_and_wait(launch.command, stderr_file.string());
  launch.link.reset();  // torn down before anything else can stop the sweep
  if (!launch.link_json.is_null()) add_link(result, launch.link_json);
  auto& [estimated, actual, count] = sweep.spent[point.experiment];
  estimated += sweep.estimates[point.id].seconds;
  actual += std::chrono::duration<double>(std::chrono::steady_clock::now() - point_start).count();
  ++count;
  const bool ok_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!ok_exit || !fs::exists(result)) return record_failure(sweep, point, index, status, result, stderr_file);
  return true;
}

// An index of the run for the report: every point's status ("missing" without a result file).
void write_index(const fs::path& run_dir, const Suite& suite) {
  nlohmann::json index_json = nlohmann::json::array();
  for (const auto& point : suite.points) {
    const fs::path result = run_dir / "points" / (point.id + ".json");
    std::string status = "missing";
    if (fs::exists(result)) {
      try {
        status = nlohmann::json::parse(read_file(result)).value("status", "unknown");
      } catch (const std::exception&) {
        status = "unreadable";
      }
    }
    index_json.push_back({{"id", point.id}, {"experiment", point.experiment}, {"status", status}});
  }
  write_atomic((run_dir / "index.json").string(), index_json.dump(2) + "\n");
}

}  // namespace

int command_run(const RunArgs& args) {
  const std::string source = FFB_SOURCE_DIR;
  OpenedRun run = open_run(args, source);
  const double gemm = measure_gemm_rate();  // for the estimate, and recorded in the manifest
  std::vector<std::string> datasets;  // the dataset files are fingerprinted once, checked before each point
  for (const auto& p : run.suite.points)
    if (std::find(datasets.begin(), datasets.end(), p.dataset) == datasets.end()) datasets.push_back(p.dataset);
  if (args.resume.empty() && !args.dry_run) start_run(args, source, gemm, datasets, run);
  if (!args.dry_run) fs::create_directories(run.dir / "points");
  std::map<std::string, PointEstimate> estimates;
  if (!estimate_and_confirm(args, source, run, gemm, estimates)) return 0;
  // The PyTorch peer asks this binary for a point's matmul shapes ('ffbench shapes').
  setenv("FFBENCH_BIN", self_path().c_str(), 1);
  std::fflush(stdout);
  Sweep sweep{args, source, run.dir, run.suite, estimates, {}, std::chrono::steady_clock::now(),
              static_cast<int>(run.suite.points.size()), 0, 0, 0, {}};
  // A resume checks the files against the run's first start (a run from before fingerprints: against now).
  const auto run_manifest = nlohmann::json::parse(read_file(run.dir / "manifest.json"));
  sweep.data_files = run_manifest.contains("dataset_files") ? fingerprints_from_json(run_manifest["dataset_files"])
                                                            : fingerprint_datasets(datasets);
  install_stop_forwarding();
  int index = 0;
  for (const auto& point : run.suite.points)
    if (!sweep_point(sweep, point, ++index)) return 130;
  write_index(run.dir, run.suite);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sweep.start).count();
  fmt::print("ffbench run: {} points ({} finished earlier, {} failed{}) in {} ({:.0f} s); results in {}\n", sweep.total,
             sweep.done_before, sweep.failures, sweep.unresolved > 0 ? fmt::format(", {} waiting for an earlier rung", sweep.unresolved) : "",
             minutes(seconds), seconds, run.dir.string());
  print_time_per_experiment(sweep.spent);
  fmt::print("report: /usr/bin/python3 {}/scripts/report.py {}\n", source, run.dir.string());
  return sweep.failures == 0 ? 0 : 4;
}

namespace {

// The point's progress line, "[index/total] id": redrawn in place on a terminal (at most every 0.2 s),
// else a line every 15 s; always at the end. `last`: when it was last printed.
ProgressFn progress_printer(const std::string& label, bool tty, std::chrono::steady_clock::time_point started,
                            std::chrono::steady_clock::time_point& last) {
  return [&label, tty, started, &last](double fraction, const std::string& status) {
    const auto now = std::chrono::steady_clock::now();
    const bool periodic = std::chrono::duration<double>(now - last).count() >= (tty ? 0.2 : 15.0);
    if (!periodic && fraction < 1.0) return;
    last = now;
    const double elapsed = std::chrono::duration<double>(now - started).count();
    const std::string eta = fraction > 0.02 ? fmt::format("ETA {:.0f}s", elapsed * (1.0 - fraction) / fraction) : "ETA ?";
    if (tty) {
      const int width = 20;
      const int filled = static_cast<int>(fraction * width);
      fmt::print("\r\033[K{} [{}{}] {:3.0f}% {} {}", label, std::string(filled, '#'), std::string(width - filled, '.'),
                 100.0 * fraction, status, eta);
    } else {
      fmt::print("{} {:3.0f}% {} {}\n", label, 100.0 * fraction, status, eta);
    }
    std::fflush(stdout);
  };
}

// The result document at `out`, its per-epoch CSV (if any) beside it.
void write_point_result(const std::string& out, nlohmann::json& result) {
  if (result.contains("csv")) {
    const auto csv_path = fs::path(out).replace_extension(".csv");
    write_atomic(csv_path.string(), result["csv"].get<std::string>());
    result.erase("csv");
  }
  write_atomic(out, result.dump(2) + "\n");
}

// The point's figures in one line: train samples/s (and the roofline fraction), final accuracies.
std::string result_summary(const nlohmann::json& result) {
  std::string summary;
  if (result.contains("train")) {
    summary = fmt::format("train {:.0f} samples/s", result["train"]["samples_per_s_median"].get<double>());
    if (result["train"]["roofline_fraction"].is_number())  // not with scope "steps"
      summary += fmt::format(" ({:.0f}% of GEMM roofline)", 100.0 * result["train"]["roofline_fraction"].get<double>());
  }
  if (result.contains("final_accuracy"))
    for (const auto& [mode, acc] : result["final_accuracy"].items())
      summary += fmt::format(" {} {:.2f}%", mode, 100.0 * acc.get<double>());
  return summary;
}

}  // namespace

int command_point(const PointArgs& args) {
  const auto text = read_file(args.point_file);
  const auto point = SuitePoint::from_json(nlohmann::json::parse(text));
  // A distributed point: every rank of the mpirun job runs it; rank 0 reports and writes.
  std::unique_ptr<MpiSession> mpi;
  Communicator* comm = nullptr;
  if (point.distributed != "none" && launched_by_mpi()) {
    mpi = std::make_unique<MpiSession>();
    comm = &mpi->world();
    if (comm->rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr)
      throw std::runtime_error("cannot silence a non-leading rank's output (/dev/null)");
  }
  const bool writes = comm == nullptr || comm->rank() == 0;
  const bool tty = isatty(STDOUT_FILENO);
  const auto started = std::chrono::steady_clock::now();
  auto last = started - std::chrono::seconds(10);
  const std::string label = fmt::format("[{}/{}] {}", args.index, args.total, point.id);
  nlohmann::json result;
  try {
    result = run_point(point, progress_printer(label, tty, started, last), comm);
  } catch (const std::exception& e) {
    result = outcome(point, PointStatus::failed, e.what());
  }
  if (!writes) return 0;
  write_point_result(args.out, result);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (tty) fmt::print("\r\033[K");
  fmt::print("{} {} in {:.1f}s {}\n", label, result["status"].get<std::string>(), seconds, result_summary(result));
  if (result["status"] == to_string(PointStatus::failed)) fmt::print(stderr, "{}: {}\n", point.id, result.value("detail", ""));
  return 0;
}

}  // namespace ffb
