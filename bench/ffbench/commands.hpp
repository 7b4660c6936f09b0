// The ffbench subcommands, each a function of its parsed arguments.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/harness/cli_values.hpp"

namespace ffb {

struct TrainArgs {
  std::string algorithm = "ff";
  std::string dataset = "synthetic";
  std::string layers = "784,500,500";
  int64_t batch = 128;
  int64_t epochs = 3;
  uint64_t seed = 1;
  int threads = 0;
  std::vector<std::string> option_items;
  std::string options_json;
  int64_t limit_train = 0, limit_test = 0;
  std::string save_path, load_path, json_path;
  bool verbose = false;
  double time_budget = 0.0;
  int64_t eval_every = 1;
  bool standardize = false;
  std::string denormals = "flush";
  int64_t validation = 0;  // samples carved from the end of the train split; > 0: per-epoch evaluation on it, test once at the end
  std::string distributed = "none";  // none | data | pipeline (under mpirun)
};

struct PingPongArgs {
  int64_t max_bytes = 64 << 20;
  int repeats = 20;
  std::string json_path;
};

struct RunArgs {
  std::string suite;
  std::string resume;
  std::string out_dir;
  std::string only;
  bool yes = false;
  bool dry_run = false;  // print the points per experiment and the estimate; run and write nothing
};

struct PointArgs {
  std::string point_file, out;
  int index = 1, total = 1;
  double elapsed = 0.0;
};

struct StepArgs {
  std::string algorithm = "ff";
  std::string layers = "784,64,32";
  int64_t batch = 16;
  uint64_t seed = 1;
  int64_t steps = 2;
  std::vector<std::string> option_items;
  std::string options_json;
  std::string out_dir;
};

struct ShapesArgs {
  std::string point_file;
};

int command_list(bool json);
// The one list as JSON: algorithms (options, prediction and distributed modes), datasets, suites.
nlohmann::json list_json();
int command_shapes(const ShapesArgs& args);
int command_step(const StepArgs& args);
int command_run(const RunArgs& args);
int command_point(const PointArgs& args);
int command_train(const TrainArgs& args);
int command_pingpong(const PingPongArgs& args);


}  // namespace ffb
