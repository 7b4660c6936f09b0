// The process of one point of a sweep (`ffbench run`): its command (`ffbench point`, the PyTorch peer,
// under mpirun, over an emulated link), started with its stderr sent to a file, and the sweep's stop
// signals forwarded to it.
#pragma once
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/ffbench/link.hpp"
#include "bench/harness/suite.hpp"

namespace ffb {

// How a point's process starts: its command, and the emulated network it runs over, if any (torn down
// when this goes). `why_not`: it cannot run here (then nothing is to be started).
struct PointLaunch {
  std::vector<std::string> command;
  std::unique_ptr<EmulatedLink> link;
  nlohmann::json link_json;
  std::string why_not;
};

// The launch of point `index` of `total` of the run in `run_dir`, `elapsed` seconds into the sweep;
// `source`: the source tree (the scripts it runs).
PointLaunch launch_of(const SuitePoint& point, const std::string& source, const std::filesystem::path& run_dir, int index,
                      int total, double elapsed, const std::filesystem::path& point_file,
                      const std::filesystem::path& result);

// From now on SIGINT, SIGTERM and SIGHUP stop the sweep, and reach the point process it is waiting for.
void install_stop_forwarding();
// The signal that asked the sweep to stop; 0 while none has.
int stop_signal();

// Runs `args` with stderr sent to `stderr_path`; returns the wait status.
int spawn_and_wait(const std::vector<std::string>& args, const std::string& stderr_path);

// The last `lines` lines of `text`.
std::string tail(const std::string& text, size_t lines);

// This binary's path.
std::string self_path();

}  // namespace ffb
