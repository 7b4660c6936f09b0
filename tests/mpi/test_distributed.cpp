// Equality tests of the distributed modes, run under mpirun with 2 ranks (tests/CMakeLists.txt):
//   pipeline  ff with schedule=pipelined over 2 ranks (each a block of layers) ends with the same
//             weights, bit for bit, as one process running the pipelined schedule;
//   data      ff (classifier, uniform negatives, peer normalisation) and bp over 2 ranks, each on
//             half of every batch, end with the weights of one process on the whole batch, within
//             a float tolerance (the GEMMs sum the batch in another order).
// Rank 0 also computes the one-process reference (without MPI) and compares; exit 0 on success.
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "algorithms/layer_pipeline.hpp"
#include "algorithms/registry.hpp"
#include "algorithms/backend/engine.hpp"
#include "common/rng.hpp"
#include "bench/distributed/mpi_communicator.hpp"

using namespace ffb;

namespace {

constexpr int64_t kInput = 64, kClasses = 10, kSteps = 12;

struct Batches {
  std::vector<float> x;
  std::vector<int32_t> y;
};

// kSteps batches of `batch` rows: the same on every rank (a fixed seed).
Batches make_batches(int64_t batch) {
  Batches data;
  Rng rng(2024);
  data.x.resize(static_cast<size_t>(kSteps * batch * kInput));
  data.y.resize(static_cast<size_t>(kSteps * batch));
  for (auto& v : data.x) v = rng.uniform();
  for (auto& v : data.y) v = static_cast<int32_t>(rng.below(kClasses));
  return data;
}

// Every weights-category buffer by name.
std::map<std::string, std::vector<float>> weights_of(const Algorithm& algorithm) {
  std::map<std::string, std::vector<float>> out;
  const auto& entries = algorithm.arena().plan().entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.category != MemCategory::weights || !e.floats) continue;
    const float* values = algorithm.arena().floats(BufferId{static_cast<int>(i)});
    out[e.name].assign(values, values + e.bytes / static_cast<int64_t>(sizeof(float)));
  }
  return out;
}

// Trains kSteps steps; `slice` rows of each `batch`-row batch starting at `offset` (data mode).
std::map<std::string, std::vector<float>> train(const std::string& name, const nlohmann::json& options,
                                                const std::vector<int64_t>& hidden, int64_t batch, DistributedMode mode,
                                                Communicator* comm) {
  auto algorithm = create_algorithm(name, options);
  algorithm->distribute(mode, comm);
  const int ranks = comm != nullptr ? comm->size() : 1, rank = comm != nullptr ? comm->rank() : 0;
  const int64_t slice = mode == DistributedMode::data ? batch / ranks : batch;
  const int64_t offset = mode == DistributedMode::data ? slice * rank : 0;
  algorithm->setup(ModelSpec{kInput, hidden, static_cast<int>(kClasses)}, slice, 7);
  const auto data = make_batches(batch);
  for (int64_t s = 0; s < kSteps; ++s) {
    const float* x = data.x.data() + (s * batch + offset) * kInput;
    const int32_t* y = data.y.data() + s * batch + offset;
    const auto stats = algorithm->train_step(x, y);
    if (!std::isfinite(stats.loss)) throw std::runtime_error(fmt::format("{}: loss not finite at step {}", name, s + 1));
  }
  finish_transfers(*algorithm);
  gather_weights(*algorithm);
  return weights_of(*algorithm);
}

// Largest |a - b| over every buffer, and the largest |a|; fails when a buffer is missing.
std::pair<double, double> compare(const std::map<std::string, std::vector<float>>& a,
                                  const std::map<std::string, std::vector<float>>& b) {
  double diff = 0.0, scale = 0.0;
  for (const auto& [name, values] : a) {
    const auto it = b.find(name);
    if (it == b.end() || it->second.size() != values.size())
      throw std::runtime_error(fmt::format("buffer {} differs in size or is missing", name));
    for (size_t i = 0; i < values.size(); ++i) {
      diff = std::max(diff, static_cast<double>(std::fabs(values[i] - it->second[i])));
      scale = std::max(scale, static_cast<double>(std::fabs(values[i])));
    }
  }
  return {diff, scale};
}

// Runs one case on every rank; rank 0 prints and returns whether it passed.
bool run_case(const std::string& title, const std::string& name, const nlohmann::json& options,
              const std::vector<int64_t>& hidden, int64_t batch, DistributedMode mode, Communicator& comm,
              double tolerance) {
  const auto distributed = train(name, options, hidden, batch, mode, &comm);
  if (comm.rank() != 0) return true;
  const auto reference = train(name, options, hidden, batch, DistributedMode::none, nullptr);
  const auto [diff, scale] = compare(reference, distributed);
  const bool ok = diff <= tolerance * scale;
  std::printf("%s %s: %zu weight buffers, largest |difference| %.3g (largest |weight| %.3g, allowed %.3g)\n",
              ok ? "PASS" : "FAIL", title.c_str(), reference.size(), diff, scale, tolerance * scale);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mpirun -np 2 test_distributed pipeline|data\n");
    return 2;
  }
  const std::string which = argv[1];
  try {
    MpiSession mpi;
    Communicator& comm = mpi.world();
    if (comm.size() != 2) throw std::runtime_error(fmt::format("run with 2 ranks (mpirun -np 2), not {}", comm.size()));
    set_threads(1);
    bool ok = true;
    if (which == "pipeline") {
      // Three layers over two ranks: the partition puts 1 and 2 on different ranks and the boundary
      // between them carries each step's activations; bit-identical to one process.
      const nlohmann::json options = {{"schedule", "pipelined"}, {"classifier", false}, {"lr", 0.01}};
      ok = run_case("ff pipeline over 2 ranks == one process, schedule pipelined", "ff", options, {48, 40, 32}, 16,
                    DistributedMode::pipeline, comm, 0.0) && ok;
    } else if (which == "data") {
      const nlohmann::json ff_options = {{"negatives", "uniform"}, {"peer_normalization", 0.03}, {"lr", 0.01},
                                         {"optimizer", "adam"}};
      ok = run_case("ff data-parallel over 2 ranks (half batches) == one process (whole batch)", "ff", ff_options,
                    {48, 32}, 32, DistributedMode::data, comm, 1e-5) && ok;
      const nlohmann::json hard = {{"negatives", "hard"}, {"lr", 0.01}};
      ok = run_case("ff (hard negatives) data-parallel over 2 ranks == one process", "ff", hard, {48, 32}, 32,
                    DistributedMode::data, comm, 1e-5) && ok;
      ok = run_case("bp data-parallel over 2 ranks (half batches) == one process (whole batch)", "bp",
                    nlohmann::json::object(), {48, 32}, 32, DistributedMode::data, comm, 1e-5) && ok;
    } else {
      throw std::invalid_argument("unknown case '" + which + "': pipeline or data");
    }
    int failed = ok ? 0 : 1;
    double flag = failed;
    comm.allreduce_max(&flag, 1);
    return flag > 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test_distributed: %s\n", e.what());
    std::fflush(stderr);
    end_mpi_after_error(1);
    return 1;
  }
}
