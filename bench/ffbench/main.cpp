// ffbench: the command-line front end. Subcommands: list, train (one run); the suite runner
// (run, report) builds on the same training harness.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "algorithms/algorithm.hpp"
#include "algorithms/backend/engine.hpp"
#include "algorithms/backend/matmul.hpp"
#include "bench/build_info.hpp"
#include "bench/distributed/mpi_communicator.hpp"
#include "bench/ffbench/commands.hpp"
#include "datasets/dataset.hpp"

namespace ffb {
namespace {

// Each subcommand's options, bound to its arguments; returns the subcommand.
CLI::App* add_list(CLI::App& app, bool& list_json) {
  auto* list = app.add_subcommand("list", "List algorithms (with options and defaults), datasets and suites");
  list->add_flag("--json", list_json, "Print the lists as one JSON object (what scripts and tests read)");
  return list;
}

CLI::App* add_train(CLI::App& app, TrainArgs& train_args) {
  auto* train = app.add_subcommand("train", "Train one algorithm on one dataset; print per-epoch test accuracy and seconds");
  train->add_option("-a,--algorithm", train_args.algorithm, "Registered algorithm (see 'ffbench list')")->capture_default_str();
  train->add_option("-d,--dataset", train_args.dataset, "Dataset (see 'ffbench list')")->capture_default_str();
  train->add_option("-l,--layers", train_args.layers, "Input size then hidden sizes, e.g. 784,500,500")->capture_default_str();
  train->add_option("-b,--batch", train_args.batch, "Batch size B")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("-e,--epochs", train_args.epochs, "Epochs")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("-s,--seed", train_args.seed, "Seed for weights, negatives and shuffling")->capture_default_str();
  train->add_option("-t,--threads", train_args.threads, "Threads for oneDNN and OpenMP (0: all)")->capture_default_str();
  train->add_option("-o,--option", train_args.option_items, "Algorithm option NAME=VALUE (repeatable)");
  train->add_option("--options", train_args.options_json, "Algorithm options as a JSON object");
  train->add_option("--limit-train", train_args.limit_train, "Use only the first N training samples (0: all)")->capture_default_str();
  train->add_option("--limit-test", train_args.limit_test, "Use only the first N test samples (0: all)")->capture_default_str();
  train->add_option("--validation", train_args.validation,
                    "Carve N samples from the end of the train split: evaluate on them after each epoch, the test split once at the end (0: test every epoch)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  train->add_option("--save", train_args.save_path, "Write the trained weights to this file");
  train->add_option("--load", train_args.load_path, "Start from weights in this file");
  train->add_option("--json", train_args.json_path, "Write the per-epoch results as JSON to this file");
  train->add_option("--time-budget", train_args.time_budget, "Stop after the epoch during which training time passes this many seconds");
  train->add_option("--eval-every", train_args.eval_every, "Evaluate (and print) after every N-th epoch and the last")
      ->capture_default_str()->check(CLI::PositiveNumber);
  train->add_flag("--standardize", train_args.standardize,
                  "Shift and scale pixels by the train split's mean and standard deviation (as the PyTorch reference)");
  train->add_option("--denormals", train_args.denormals,
                    "flush: FTZ/DAZ on every thread (subnormal floats become 0, as DL frameworks do); keep: IEEE subnormals (slow on many x86 cores)")
      ->capture_default_str()->check(CLI::IsMember({"flush", "keep"}));
  train->add_flag("-v,--verbose", train_args.verbose, "Per-layer losses and mean goodness after each epoch");
  train->add_option("--distributed", train_args.distributed,
                    "Under mpirun: 'data' (each rank a slice of every batch, gradients averaged) or 'pipeline' (each rank "
                    "a block of layers; ff with schedule=pipelined and classifier=false)")
      ->capture_default_str()->check(CLI::IsMember({"none", "data", "pipeline"}));
  return train;
}

CLI::App* add_run(CLI::App& app, RunArgs& run_args) {
  auto* run = app.add_subcommand("run", "Run a suite (a sweep of experiments, each point in a fresh process) into reports/runs/");
  run->add_option("suite", run_args.suite, "Suite name from bench/suites/ (quick, full, ci) or a path to a suite file");
  run->add_option("--resume", run_args.resume, "Finish an interrupted run: its folder under reports/runs/");
  run->add_option("--out-dir", run_args.out_dir, "Folder for run folders (default: reports/runs in the source tree)");
  run->add_option("--only", run_args.only, "Run only the points whose id contains this text (several: comma-separated; '^text': ids starting with it)");
  run->add_flag("-y,--yes", run_args.yes, "Start a sweep estimated at over 3 hours or 500 points without asking");
  run->add_flag("--dry-run", run_args.dry_run, "Check the suite, print its points per experiment and the time estimate; run and write nothing");
  return run;
}

CLI::App* add_point(CLI::App& app, PointArgs& point_args) {
  auto* point = app.add_subcommand("point", "Run one suite point (used by 'ffbench run'; one fresh process per point)");
  point->add_option("--point-file", point_args.point_file, "Point description (JSON)")->required();
  point->add_option("--out", point_args.out, "Result file (JSON)")->required();
  point->add_option("--index", point_args.index, "This point's position in the sweep");
  point->add_option("--total", point_args.total, "Points in the sweep");
  point->add_option("--elapsed", point_args.elapsed, "Seconds the sweep has run");
  point->group("");  // internal: hidden from --help
  return point;
}

CLI::App* add_step(CLI::App& app, StepArgs& step_args) {
  auto* step = app.add_subcommand("step", "Save initial weights and one batch, run K steps, save losses and weights (equal-work test vs PyTorch)");
  step->add_option("-a,--algorithm", step_args.algorithm, "Registered algorithm")->capture_default_str();
  step->add_option("-l,--layers", step_args.layers, "Input size then hidden sizes")->capture_default_str();
  step->add_option("-b,--batch", step_args.batch, "Batch size")->capture_default_str()->check(CLI::PositiveNumber);
  step->add_option("-s,--seed", step_args.seed, "Seed")->capture_default_str();
  step->add_option("--steps", step_args.steps, "Steps")->capture_default_str()->check(CLI::PositiveNumber);
  step->add_option("-o,--option", step_args.option_items, "Algorithm option NAME=VALUE (repeatable)");
  step->add_option("--options", step_args.options_json, "Algorithm options as a JSON object");
  step->add_option("--out", step_args.out_dir, "Folder for initial.weights, batch.bin, updated.weights, ffbench.json")->required();
  return step;
}

CLI::App* add_shapes(CLI::App& app, ShapesArgs& shapes_args) {
  auto* shapes = app.add_subcommand("shapes", "Print, as JSON, the matmul shapes one training step of a suite point runs (the PyTorch peer times its GEMM on them)");
  shapes->add_option("--point-file", shapes_args.point_file, "Point description (JSON), as 'ffbench run' writes")->required();
  return shapes;
}

CLI::App* add_pingpong(CLI::App& app, PingPongArgs& pingpong_args) {
  auto* pingpong = app.add_subcommand("pingpong", "Under mpirun -np 2: the network's latency (alpha) and bandwidth (beta) "
                                                   "between ranks 0 and 1, for the scaling model");
  pingpong->add_option("--max-bytes", pingpong_args.max_bytes, "Largest message")->capture_default_str()->check(CLI::Range(int64_t{8}, int64_t{1} << 30));
  pingpong->add_option("--repeats", pingpong_args.repeats, "Round trips per size")->capture_default_str()->check(CLI::Range(3, 100000));
  pingpong->add_option("--json", pingpong_args.json_path, "Write the measurement as JSON to this file");
  return pingpong;
}

CLI::App* add_report(CLI::App& app, std::string& report_run) {
  auto* report = app.add_subcommand("report", "Make REPORT.md and the plots for a run folder (runs scripts/report.py)");
  report->add_option("run", report_run, "Run folder under reports/runs/")->required();
  return report;
}

int command_report(const std::string& report_run) {
  const std::string command = std::string("/usr/bin/python3 '") + FFB_SOURCE_DIR + "/scripts/report.py' '" + report_run + "'";
  const int rc = std::system(command.c_str());
  return rc == 0 ? 0 : 1;
}

// Every subcommand's arguments, and the subcommands (in `--help`'s order).
struct Arguments {
  bool list_json = false;
  TrainArgs train;
  RunArgs run;
  PointArgs point;
  StepArgs step;
  ShapesArgs shapes;
  PingPongArgs pingpong;
  std::string report_run;
};
struct Subcommands {
  CLI::App *list, *train, *run, *point, *step, *shapes, *pingpong, *report;
};

Subcommands add_subcommands(CLI::App& app, Arguments& a) {
  return {add_list(app, a.list_json), add_train(app, a.train),   add_run(app, a.run),           add_point(app, a.point),
          add_step(app, a.step),      add_shapes(app, a.shapes), add_pingpong(app, a.pingpong), add_report(app, a.report_run)};
}

// Runs the subcommand that was parsed.
int run_subcommand(const Subcommands& s, const Arguments& a) {
  if (s.list->parsed()) return command_list(a.list_json);
  if (s.train->parsed()) return command_train(a.train);
  if (s.run->parsed()) return command_run(a.run);
  if (s.point->parsed()) return command_point(a.point);
  if (s.step->parsed()) return command_step(a.step);
  if (s.shapes->parsed()) return command_shapes(a.shapes);
  if (s.pingpong->parsed()) return command_pingpong(a.pingpong);
  if (s.report->parsed()) return command_report(a.report_run);
  return 0;
}

}  // namespace
}  // namespace ffb

int main(int argc, char** argv) {
  using namespace ffb;
  CLI::App app{"ffbench: Forward-Forward versus backpropagation on one CPU backend.\n"
               "Measures throughput, memory, convergence and scaling; see README.md."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ffbench ") + build_revision());
  Arguments arguments;
  const Subcommands subcommands = add_subcommands(app, arguments);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run_subcommand(subcommands, arguments);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ffbench: error: %s\n", e.what());
    std::fflush(stderr);
    end_mpi_after_error(2);
    return 2;
  }
}
