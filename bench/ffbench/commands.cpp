// ffbench list and ffbench train.
#include "bench/ffbench/commands.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "algorithms/algorithm.hpp"
#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/matmul.hpp"
#include "bench/harness/suite.hpp"
#include "bench/harness/training.hpp"
#include "datasets/dataset.hpp"

namespace ffb {

int command_list() {
  fmt::print("Algorithms (option = default: description):\n");
  for (const auto& info : registered_algorithms()) {
    fmt::print("  {:<10} {}\n", info.name, info.summary);
    for (const auto& option : info.options)
      fmt::print("      {:<22} = {:<14} {}\n", option.name, option.default_value.dump(), option.help);
  }
  fmt::print("\nDatasets (data folder: {}):\n", data::data_dir());
  for (const char* name : {"synthetic", "mnist", "fashion"})
    fmt::print("  {:<10} {}\n", name, data::is_available(name) ? "available" : "not fetched: run scripts/fetch_data.sh");
  const std::filesystem::path suites = std::filesystem::path(FFB_SOURCE_DIR) / "bench" / "suites";
  fmt::print("\nSuites ({}):\n", suites.string());
  if (std::filesystem::is_directory(suites))
    for (const auto& entry : std::filesystem::directory_iterator(suites))
      if (entry.path().extension() == ".json") fmt::print("  {}\n", entry.path().stem().string());
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
  ModelSpec spec{784, point.hidden, 10};
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

int command_train(const TrainArgs& args) {
  set_denormals(parse_denormals(args.denormals));
  set_threads(args.threads);
  const auto layers = parse_layers(args.layers);
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

  auto algorithm = create_algorithm(config.algorithm, config.options);  // validates options first
  const auto splits = data::load(config.dataset);
  if (splits.train.d != layers[0])
    throw std::invalid_argument(fmt::format("--layers starts with {} but {} images have {} inputs: start --layers with {}",
                                            layers[0], args.dataset, splits.train.d, splits.train.d));
  const bool validated = splits.validation.n > 0;
  fmt::print("ffbench train: {} {} on {} ({} train / {}{} test), batch {}, {} epochs, seed {}, {} threads, denormals {}, "
             "oneDNN {} ({})\n",
             config.algorithm, ModelSpec{splits.train.d, config.hidden, splits.train.k}.describe(), args.dataset,
             splits.train.n, validated ? fmt::format("{} validation / ", splits.validation.n) : "", splits.test.n,
             config.batch, config.epochs, config.seed, threads(), to_string(denormals()), onednn_version(), onednn_isa());
  if (validated) fmt::print("accuracies per epoch are on the validation split; the test split is evaluated once, at the end\n");
  fmt::print("options: {}\n", algorithm->options().values().dump());
  config.load_path = args.load_path;
  if (!args.load_path.empty()) fmt::print("starting from the weights in {}\n", args.load_path);
  std::fflush(stdout);

  bool header = false;
  auto on_epoch = [&](const EpochRecord& r, const TrainResult& result) {
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
    if (args.verbose)
      for (size_t l = 0; l < r.layer_loss.size(); ++l)
        fmt::print("      layer {}: loss {:.4f}, mean goodness positive {:.4f} negative {:.4f}\n", l + 1, r.layer_loss[l],
                   r.goodness_pos[l], r.goodness_neg[l]);
    if (args.verbose && !r.census.empty()) {
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
    std::fflush(stdout);
  };
  const auto result = train(*algorithm, config, splits, on_epoch);
  if (result.status != "ok") fmt::print("run {}: {}\n", result.status, result.detail);
  if (validated && !result.epochs.empty()) {
    const auto& last = result.epochs.back();
    std::string test, best;
    for (size_t m = 0; m < last.test_accuracy.size(); ++m)
      test += fmt::format(" {} {:.2f}%", result.modes[m], 100.0 * last.test_accuracy[m]);
    for (size_t m = 0; m < result.best_epoch.size(); ++m)
      best += fmt::format(" {} epoch {} ({:.2f}%)", result.modes[m], result.best_epoch[m], 100.0 * result.best_validation_accuracy[m]);
    if (!test.empty()) fmt::print("test accuracy of the final model (epoch {}):{}\n", last.epoch, test);
    fmt::print("best epoch on validation:{}\n", best);
  }
  if (!args.save_path.empty()) {
    algorithm->save(args.save_path);
    fmt::print("weights saved to {}\n", args.save_path);
  }
  if (!args.json_path.empty()) {
    nlohmann::json out;
    out["algorithm"] = config.algorithm;
    out["options"] = algorithm->options().values();
    out["model"] = result.spec.describe();
    out["status"] = result.status;
    out["modes"] = result.modes;
    out["selection"] = result.selection;
    out["validation_samples"] = result.validation_samples;
    out["best_epoch"] = result.best_epoch;
    for (const auto& r : result.epochs)
      out["epochs"].push_back({{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"train_seconds", r.train_seconds},
                               {"eval_seconds", r.eval_seconds}, {"samples_per_second", r.samples_per_second},
                               {"test_accuracy", r.test_accuracy}, {"test_loss", r.test_loss},
                               {"validation_accuracy", r.validation_accuracy}, {"validation_loss", r.validation_loss}});
    const std::string temp = args.json_path + ".tmp";
    std::ofstream(temp) << out.dump(2) << "\n";
    std::filesystem::rename(temp, args.json_path);
  }
  return result.status == "ok" ? 0 : 3;
}

}  // namespace ffb
