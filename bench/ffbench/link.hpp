// A point's emulated network: two network namespaces joined by a veth pair shaped to a rate
// (scripts/cluster/emulated_link.sh), made before the point and torn down after it whatever happens
// (a failed point, Ctrl-C: the destructor runs as `ffbench run` unwinds), with the link's own
// latency and bandwidth measured once per run by `ffbench pingpong` over it.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/harness/suite.hpp"

namespace ffb {

class EmulatedLink {
 public:
  // Makes the link of `rate` ("unshaped", "1gbit", ...) with `script`; why_not() is non-empty when it
  // could not (no privilege to make namespaces, no iproute2), and nothing is left behind then.
  EmulatedLink(std::string script, std::string rate);
  ~EmulatedLink();
  EmulatedLink(const EmulatedLink&) = delete;
  EmulatedLink& operator=(const EmulatedLink&) = delete;

  const std::string& why_not() const { return why_not_; }
  // mpirun's place in a point's command: ranks placed one per namespace.
  std::vector<std::string> mpirun_prefix(int ranks) const;
  // The link's ping-pong (alpha, beta, the allreduce's cost) as `ffbench pingpong --json` writes it,
  // measured with `ffbench` the first time and read from `cache` after; a JSON with "error" if it failed.
  nlohmann::json measured(const std::string& ffbench, const std::filesystem::path& cache) const;

 private:
  std::string script_, rate_, why_not_;
  bool up_ = false;
};

// How to start a point of `ranks` > 1 under MPI: mpirun's arguments before ffbench's, or why it
// cannot run here (a build without MPI, no mpirun on PATH).
struct MpiLauncher {
  std::vector<std::string> prefix;
  std::string why_not;
};
MpiLauncher mpi_launcher(const SuitePoint& point);

// Runs `command` (a shell line) and returns its exit status; its output (stdout and stderr) in `output`.
int run_shell(const std::string& command, std::string& output);

}  // namespace ffb
