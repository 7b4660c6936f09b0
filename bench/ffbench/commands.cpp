// ffbench list and ffbench train.
#include "bench/ffbench/commands.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "algorithms/registry.hpp"
#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/matmul.hpp"
#include "bench/distributed/mpi_communicator.hpp"
#include "bench/harness/suite.hpp"
#include "bench/harness/training.hpp"
#include "datasets/dataset.hpp"

namespace ffb {

namespace {
nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

// The suites in bench/suites/ with their descriptions (an unreadable file is listed with its error).
std::vector<std::pair<std::string, std::string>> suite_files() {
  const std::filesystem::path folder = std::filesystem::path(FFB_SOURCE_DIR) / "bench" / "suites";
  std::vector<std::pair<std::string, std::string>> suites;
  if (!std::filesystem::is_directory(folder)) return suites;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() != ".json") continue;
    std::string description;
    try {
      std::ifstream in(entry.path());
      description = nlohmann::json::parse(in).value("description", "");
    } catch (const std::exception& e) {
      description = fmt::format("(unreadable: {})", e.what());
    }
    suites.emplace_back(entry.path().stem().string(), description);
  }
  std::sort(suites.begin(), suites.end());
  return suites;
}
}  // namespace

// The one list (algorithms, datasets, suites) that scripts, tests and the report read.
nlohmann::json list_json() {
  nlohmann::json out;
  out["algorithms"] = nlohmann::json::array();
  for (const auto& info : registered_algorithms()) {
    nlohmann::json algorithm{{"name", info.name}, {"summary", info.summary}, {"options", nlohmann::json::array()}};
    for (const auto& option : info.options)
      algorithm["options"].push_back({{"name", option.name}, {"default", option.default_value}, {"help", option.help},
                                      {"min", number_or_null(option.min_value)}, {"max", number_or_null(option.max_value)},
                                      {"min_exclusive", option.min_exclusive}});
    const auto instance = info.create(nlohmann::json::object());
    algorithm["prediction_modes"] = instance->prediction_modes();
    algorithm["data_parallel"] = instance->distribution_problem(DistributedMode::data).empty();
    const auto pipeline = instance->distribution_problem(DistributedMode::pipeline);
    algorithm["pipeline"] = pipeline.empty() ? "with its defaults" : pipeline;
    algorithm["layer_local"] = info.layer_local;
    algorithm["published"] = nlohmann::json::array();
    for (const auto& figure : info.published)
      algorithm["published"].push_back(
          {{"dataset", figure.dataset}, {"accuracy", figure.accuracy}, {"setup", figure.setup}, {"source", figure.source}});
    out["algorithms"].push_back(algorithm);
  }
  out["datasets"] = nlohmann::json::array();
  for (const auto& info : data::registered_datasets())
    out["datasets"].push_back({{"name", info.name}, {"summary", info.summary}, {"available", data::is_available(info.name)}});
  out["suites"] = nlohmann::json::array();
  for (const auto& [name, description] : suite_files()) out["suites"].push_back({{"name", name}, {"description", description}});
  out["data_dir"] = data::data_dir();
  return out;
}

int command_list(bool json) {
  if (json) {
    fmt::print("{}\n", list_json().dump(2));
    return 0;
  }
  fmt::print("Algorithms (option = default: description):\n");
  for (const auto& info : registered_algorithms()) {
    fmt::print("  {:<12} {}\n", info.name, info.summary);
    for (const auto& option : info.options)
      fmt::print("      {:<22} = {:<14} {}\n", option.name, option.default_value.dump(), option.help);
  }
  fmt::print("\nDatasets (data folder: {}):\n", data::data_dir());
  for (const auto& info : data::registered_datasets())
    fmt::print("  {:<10} {}{}\n", info.name, info.summary,
               data::is_available(info.name) ? "" : "; not fetched: run scripts/fetch_data.sh");
  fmt::print("\nSuites (bench/suites/; 'ffbench run NAME --dry-run' shows the points and the time estimate):\n");
  for (const auto& [name, description] : suite_files()) {
    const auto first_sentence = description.substr(0, description.find(". ") == std::string::npos ? description.size() : description.find(". ") + 1);
    fmt::print("  {:<10} {}\n", name, first_sentence.size() > 150 ? first_sentence.substr(0, 147) + "..." : first_sentence);
  }
  return 0;
}

int command_step(const StepArgs& args) {
  // For the equal-work test against the PyTorch peer: initial weights, one batch, K steps, the
  // losses and the updated weights, all written to out_dir. Single-threaded.
  set_threads(1);
  const auto layers = parse_layers(args.layers);
  auto algorithm = create_algorithm(args.algorithm, parse_option_values(args.option_items, args.options_json));
  data::DatasetSpec data_spec;
  data_spec.synthetic_d = layers[0];
  data_spec.synthetic_train = std::max<int64_t>(args.batch, 64);
  data_spec.synthetic_test = 16;
  const auto data = data::load(data_spec);
  ModelSpec spec{layers[0], std::vector<int64_t>(layers.begin() + 1, layers.end()), data.train.k};
  algorithm->setup(spec, args.batch, args.seed);
  std::filesystem::create_directories(args.out_dir);
  const auto dir = std::filesystem::path(args.out_dir);
  algorithm->save((dir / "initial.weights").string());
  {
    std::ofstream batch_file(dir / "batch.bin", std::ios::binary);
    const int64_t rows = args.batch, d = spec.input;
    batch_file.write(reinterpret_cast<const char*>(&rows), sizeof rows);
    batch_file.write(reinterpret_cast<const char*>(&d), sizeof d);
    batch_file.write(reinterpret_cast<const char*>(data.train.x.data()), static_cast<std::streamsize>(rows * d * sizeof(float)));
    batch_file.write(reinterpret_cast<const char*>(data.train.y.data()), static_cast<std::streamsize>(rows * sizeof(int32_t)));
  }
  nlohmann::json out;
  out["options"] = algorithm->options().values();
  for (int64_t i = 0; i < args.steps; ++i) out["losses"].push_back(algorithm->train_step(data.train.x.data(), data.train.y.data()).loss);
  algorithm->save((dir / "updated.weights").string());
  std::ofstream(dir / "ffbench.json") << out.dump(2) << "\n";
  fmt::print("{}\n", out.dump());
  return 0;
}

int command_shapes(const ShapesArgs& args) {
  std::ifstream in(args.point_file);
  if (!in) throw std::invalid_argument(fmt::format("--point-file {}: cannot read it", args.point_file));
  nlohmann::json point_json;
  try {
    point_json = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw std::invalid_argument(fmt::format("--point-file {}: not valid JSON ({})", args.point_file, e.what()));
  }
  const auto point = SuitePoint::from_json(point_json);
  set_denormals(parse_denormals(point.denormals));
  set_threads(point.threads);
  auto algorithm = create_algorithm(point.algorithm, point.options);
  const data::DatasetShape shape = data::shape_of(point.dataset);
  ModelSpec spec{shape.input, point.hidden, shape.classes};
  algorithm->setup(spec, point.batch, point.seed);
  // Depth steps first (a pipelined schedule runs every layer only once full), then count one step.
  std::vector<float> x(static_cast<size_t>(point.batch * spec.input), 0.5f);
  std::vector<int32_t> y(static_cast<size_t>(point.batch));
  for (int64_t i = 0; i < point.batch; ++i) y[static_cast<size_t>(i)] = static_cast<int32_t>(i % spec.classes);
  for (size_t i = 0; i < spec.hidden.size(); ++i) algorithm->train_step(x.data(), y.data());
  const auto before = algorithm->matmuls().run_counts();
  algorithm->train_step(x.data(), y.data());
  const auto after = algorithm->matmuls().run_counts();
  nlohmann::json shapes = nlohmann::json::array();
  for (size_t i = 0; i < after.size(); ++i) {
    const auto& s = after[i].first;
    const int64_t runs = after[i].second - before[i].second;
    if (runs > 0)
      shapes.push_back({{"m", s.m}, {"n", s.n}, {"k", s.k}, {"trans_a", s.trans_a}, {"trans_b", s.trans_b},
                        {"bf16", s.bf16}, {"runs_per_step", runs}});
  }
  fmt::print("{}\n", nlohmann::json{{"point", point.id}, {"shapes", shapes}}.dump());
  return 0;
}

namespace {

// Every rank's training time, compute and communication (collective; rank 0's stdout is the one shown).
nlohmann::json distributed_summary(const Algorithm& algorithm, Communicator& comm, const TrainResult& result) {
  auto out = distributed_stats(algorithm, comm, result);
  fmt::print("{:>4} {:>8} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}\n", "rank", "layers", "train_s", "compute_s", "reduce_s",
             "wait_s", "sent_MB", "received_MB");
  for (const auto& row : out["per_rank"])
    fmt::print("{:>4} {:>8} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>11.1f} {:>11.1f}\n", row["rank"].get<int>(),
               fmt::format("{}-{}", row["layers"][0].get<int64_t>() + 1, row["layers"][1].get<int64_t>()),
               row["train_seconds"].get<double>(), row["compute_seconds"].get<double>(), row["reduce_seconds"].get<double>(),
               row["wait_seconds"].get<double>() + row["post_seconds"].get<double>(), row["bytes_sent"].get<double>() * 1e-6,
               row["bytes_received"].get<double>() * 1e-6);
  fmt::print("compute_s = the rank's training time less its time in MPI calls; reduce_s: the gradient allreduces "
             "(data); wait_s: waiting for and posting transfers (pipeline: fill, drain and bubbles)\n");
  return out;
}

}  // namespace

int command_pingpong(const PingPongArgs& args) {
  if (!launched_by_mpi())
    throw std::invalid_argument("the ping-pong runs under MPI: mpirun -np 2 ffbench pingpong");
  MpiSession mpi;
  Communicator& comm = mpi.world();
  if (comm.rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr)
    throw std::runtime_error("cannot silence a non-leading rank's output (/dev/null)");
  const auto hosts = mpi.host_names();
  const auto result = measure_pingpong(comm, args.max_bytes, args.repeats);
  fmt::print("ping-pong between rank 0 ({}) and rank 1 ({}), {} round trips per size:\n", hosts[0], hosts[1], args.repeats);
  fmt::print("{:>12} {:>12} {:>10}\n", "bytes", "one-way_us", "GB/s");
  for (const auto& [bytes, seconds] : result.points)
    fmt::print("{:>12.0f} {:>12.2f} {:>10.2f}\n", bytes, seconds * 1e6, bytes / seconds * 1e-9);
  fmt::print("alpha (latency) {:.2f} us, beta (bandwidth) {:.2f} GB/s\n", result.alpha_seconds * 1e6,
             result.beta_bytes_per_second * 1e-9);
  fmt::print("allreduce (float sum) over {} ranks: {:.2f} us + bytes / ({:.2f} GB/s)\n", result.ranks,
             result.allreduce_alpha_seconds * 1e6, result.allreduce_bytes_per_second * 1e-9);
  if (!args.json_path.empty() && comm.rank() == 0) {
    auto out = result.to_json();
    out["hosts"] = hosts;
    out["same_host"] = hosts[0] == hosts[1];
    const std::string temp = args.json_path + ".tmp";
    std::ofstream(temp) << out.dump(2) << "\n";
    std::filesystem::rename(temp, args.json_path);
  }
  return 0;
}

namespace {

// The MPI job a distributed `ffbench train` runs in (every rank runs the command; only rank 0's stdout
// is kept), or none.
struct MpiRun {
  std::unique_ptr<MpiSession> session;
  Communicator* comm = nullptr;
};

MpiRun start_mpi(const TrainArgs& args, DistributedMode mode) {
  MpiRun run;
  if (mode == DistributedMode::none) return run;
  if (!launched_by_mpi())
    throw std::invalid_argument(fmt::format("--distributed {} runs under MPI: start it as 'mpirun -np N ffbench train "
                                            "--distributed {} ...' (one rank per process)", args.distributed, args.distributed));
  run.session = std::make_unique<MpiSession>();
  run.comm = &run.session->world();
  if (args.time_budget > 0.0 && mode == DistributedMode::pipeline)
    fmt::print(stderr, "note: the time budget is judged on the slowest rank's epochs\n");
  if (run.comm->rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr)
    throw std::runtime_error("cannot silence a non-leading rank's output (/dev/null)");
  return run;
}

// `layers`: the input size, then the hidden sizes (--layers).
TrainConfig train_config(const TrainArgs& args, const std::vector<int64_t>& layers) {
  TrainConfig config;
  config.algorithm = args.algorithm;
  config.options = parse_option_values(args.option_items, args.options_json);
  config.dataset.name = args.dataset;
  config.dataset.seed = args.seed;
  config.dataset.synthetic_d = layers[0];
  config.dataset.limit_train = args.limit_train;
  config.dataset.limit_test = args.limit_test;
  config.hidden.assign(layers.begin() + 1, layers.end());
  config.batch = args.batch;
  config.epochs = args.epochs;
  config.eval_every = args.eval_every;
  config.dataset.standardize = args.standardize;
  config.dataset.validation = args.validation;
  config.time_budget_seconds = args.time_budget;
  config.seed = args.seed;
  config.threads = threads();
  return config;
}

// Where the ranks run, whether they oversubscribe the host, and (data mode) how a batch is shared.
void print_ranks(const TrainArgs& args, const MpiRun& mpi, DistributedMode mode) {
  const auto hosts = mpi.session->host_names();
  fmt::print("distributed {} over {} ranks ({} thread(s) each) on {}{}\n", args.distributed, mpi.comm->size(), threads(),
             hosts.front(), std::count(hosts.begin(), hosts.end(), hosts.front()) == static_cast<long>(hosts.size())
                                ? " (all ranks on one host)" : " and other hosts");
  const auto here = std::count(hosts.begin(), hosts.end(), hosts.front());
  const auto cores = static_cast<long>(std::thread::hardware_concurrency());
  if (here * threads() > cores)
    fmt::print("note: {} ranks x {} threads on {} with {} hardware threads: oversubscribed, so no scaling figure can be "
               "read from this run (use -t {})\n", here, threads(), hosts.front(), cores, std::max<long>(1, cores / here));
  if (mode == DistributedMode::data)
    fmt::print("each rank trains on {} of every batch's {} samples; gradients averaged over the ranks before each update\n",
               args.batch / mpi.comm->size(), args.batch);
}

// What runs on what, before the first epoch.
void print_run_header(const TrainArgs& args, const TrainConfig& config, const data::Splits& splits,
                      const Algorithm& algorithm, const MpiRun& mpi, DistributedMode mode) {
  const bool validated = splits.validation.n > 0;
  fmt::print("ffbench train: {} {} on {} ({} train / {}{} test), batch {}, {} epochs, seed {}, {} threads, denormals {}, "
             "oneDNN {} ({})\n",
             config.algorithm, ModelSpec{splits.train.d, config.hidden, splits.train.k}.describe(), args.dataset,
             splits.train.n, validated ? fmt::format("{} validation / ", splits.validation.n) : "", splits.test.n,
             config.batch, config.epochs, config.seed, threads(), to_string(denormals()), onednn_version(), onednn_isa());
  if (validated) fmt::print("accuracies per epoch are on the validation split; the test split is evaluated once, at the end\n");
  if (mpi.comm != nullptr) print_ranks(args, mpi, mode);
  fmt::print("options: {}\n", algorithm.options().values().dump());
  if (!args.load_path.empty()) fmt::print("starting from the weights in {}\n", args.load_path);
  std::fflush(stdout);
}

// With --verbose: per layer, the epoch's loss and mean goodness; the subnormal values per memory category.
void print_epoch_details(const EpochRecord& r) {
  for (size_t l = 0; l < r.layer_loss.size(); ++l)
    fmt::print("      layer {}: loss {:.4f}, mean goodness positive {:.4f} negative {:.4f}\n", l + 1, r.layer_loss[l],
               r.goodness_pos[l], r.goodness_neg[l]);
  if (r.census.empty()) return;
  int64_t total[kMemCategories] = {}, subnormal[kMemCategories] = {};
  for (const auto& c : r.census) {
    total[static_cast<int>(c.category)] += c.values;
    subnormal[static_cast<int>(c.category)] += c.subnormal;
  }
  std::string line;
  for (int c = 0; c < kMemCategories; ++c)
    if (total[c] > 0) line += fmt::format(" {} {}/{}", to_string(static_cast<MemCategory>(c)), subnormal[c], total[c]);
  fmt::print("      subnormal values:{}\n", line);
}

// One line per evaluated epoch, under a header printed with the first (`header`: printed yet).
EpochCallback epoch_printer(bool validated, bool verbose, bool& header) {
  return [validated, verbose, &header](const EpochRecord& r, const TrainResult& result) {
    if (!header) {
      std::string modes;
      for (const auto& m : result.modes) modes += fmt::format(" {:>10}", (validated ? "val:" : "acc:") + m);
      fmt::print("{:>5} {:>10} {:>9} {:>9} {:>10}{}\n", "epoch", "loss", "train_s", "eval_s", "samples/s", modes);
      header = true;
    }
    std::string accuracies;
    for (double a : validated ? r.validation_accuracy : r.test_accuracy) accuracies += fmt::format(" {:>9.2f}%", 100.0 * a);
    fmt::print("{:>5} {:>10.5f} {:>9.2f} {:>9.2f} {:>10.0f}{}\n", r.epoch, r.train_loss, r.train_seconds,
               r.eval_seconds, r.samples_per_second, accuracies);
    if (verbose) print_epoch_details(r);
    std::fflush(stdout);
  };
}

// With a validation split: the final model's test accuracy and the best epoch on validation.
void print_validation_outcome(const TrainResult& result) {
  if (result.epochs.empty()) return;
  const auto& last = result.epochs.back();
  std::string test, best;
  for (size_t m = 0; m < last.test_accuracy.size(); ++m)
    test += fmt::format(" {} {:.2f}%", result.modes[m], 100.0 * last.test_accuracy[m]);
  for (size_t m = 0; m < result.best_epoch.size(); ++m)
    best += fmt::format(" {} epoch {} ({:.2f}%)", result.modes[m], result.best_epoch[m], 100.0 * result.best_validation_accuracy[m]);
  if (!test.empty()) fmt::print("test accuracy of the final model (epoch {}):{}\n", last.epoch, test);
  fmt::print("best epoch on validation:{}\n", best);
}

// The --json file: the run's outcome and every evaluated epoch.
nlohmann::json train_json(const TrainConfig& config, const Algorithm& algorithm, const TrainResult& result,
                          const nlohmann::json& distributed) {
  nlohmann::json out;
  if (!distributed.is_null()) out["distributed"] = distributed;
  out["algorithm"] = config.algorithm;
  out["options"] = algorithm.options().values();
  out["model"] = result.spec.describe();
  out["status"] = to_string(result.status);
  out["modes"] = result.modes;
  out["selection"] = result.selection;
  out["validation_samples"] = result.validation_samples;
  out["best_epoch"] = result.best_epoch;
  for (const auto& r : result.epochs)
    out["epochs"].push_back({{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"train_seconds", r.train_seconds},
                             {"eval_seconds", r.eval_seconds}, {"samples_per_second", r.samples_per_second},
                             {"test_accuracy", r.test_accuracy}, {"test_loss", r.test_loss},
                             {"validation_accuracy", r.validation_accuracy}, {"validation_loss", r.validation_loss}});
  return out;
}

}  // namespace

int command_train(const TrainArgs& args) {
  // Distributed: MPI first (every rank runs this same command); only rank 0 prints and writes.
  const DistributedMode mode = distributed_mode_from(args.distributed);
  const MpiRun mpi = start_mpi(args, mode);
  Communicator* comm = mpi.comm;
  set_denormals(parse_denormals(args.denormals));
  set_threads(args.threads);
  const auto layers = parse_layers(args.layers);
  TrainConfig config = train_config(args, layers);

  auto algorithm = create_algorithm(config.algorithm, config.options);  // validates options first
  algorithm->distribute(mode, comm);  // says why when the algorithm cannot train this way
  const auto splits = data::load(config.dataset);
  if (splits.train.d != layers[0])
    throw std::invalid_argument(fmt::format("--layers starts with {} but {} images have {} inputs: start --layers with {}",
                                            layers[0], args.dataset, splits.train.d, splits.train.d));
  const bool validated = splits.validation.n > 0;
  config.load_path = args.load_path;
  print_run_header(args, config, splits, *algorithm, mpi, mode);

  bool header = false;
  const auto result = train(*algorithm, config, splits, epoch_printer(validated, args.verbose, header));
  if (result.status != PointStatus::ok) fmt::print("run {}: {}\n", to_string(result.status), result.detail);
  nlohmann::json distributed;
  if (comm != nullptr) distributed = distributed_summary(*algorithm, *comm, result);
  if (validated) print_validation_outcome(result);
  if (!args.save_path.empty() && (comm == nullptr || comm->rank() == 0)) {
    algorithm->save(args.save_path);
    fmt::print("weights saved to {}\n", args.save_path);
  }
  if (!args.json_path.empty() && (comm == nullptr || comm->rank() == 0)) {
    const std::string temp = args.json_path + ".tmp";
    std::ofstream(temp) << train_json(config, *algorithm, result, distributed).dump(2) << "\n";
    std::filesystem::rename(temp, args.json_path);
  }
  return result.status == PointStatus::ok ? 0 : 3;
}

}  // namespace ffb
