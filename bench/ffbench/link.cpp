// See link.hpp.
#include "bench/ffbench/link.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "bench/distributed/mpi_communicator.hpp"

namespace ffb {

namespace fs = std::filesystem;

int run_shell(const std::string& command, std::string& output) {
  output.clear();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {
std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
}  // namespace

EmulatedLink::EmulatedLink(std::string script, std::string rate) : script_(std::move(script)), rate_(std::move(rate)) {
  std::string output;
  const int status = run_shell(shell_quoted(script_) + " up " + shell_quoted(rate_), output);
  if (status == 0) {
    up_ = true;
    return;
  }
  why_not_ = output.empty() ? fmt::format("{} up {} exited with {}", script_, rate_, status) : output;
  run_shell(shell_quoted(script_) + " down", output);  // whatever `up` made before it failed
}

EmulatedLink::~EmulatedLink() {
  if (!up_) return;
  std::string output;
  if (run_shell(shell_quoted(script_) + " down", output) != 0)
    fmt::print(stderr, "ffbench run: tearing down the emulated link failed: {}\n(remove it with: {} down)\n", output, script_);
}

std::vector<std::string> EmulatedLink::mpirun_prefix(int ranks) const {
  return {script_, "mpirun", "-np", std::to_string(ranks)};
}

nlohmann::json EmulatedLink::measured(const std::string& ffbench, const fs::path& cache) const {
  if (!fs::exists(cache)) {
    fs::create_directories(cache.parent_path());
    std::string output;
    // Up to 8 MiB: the largest message a point sends is smaller, and a 1 Gbit/s link takes 70 ms for it.
    const std::string command = fmt::format("{} mpirun -np 2 {} pingpong --max-bytes 8388608 --repeats 10 --json {}",
                                            shell_quoted(script_), shell_quoted(ffbench), shell_quoted(cache.string()));
    if (run_shell(command, output) != 0 || !fs::exists(cache))
      return {{"rate", rate_}, {"error", "ping-pong over the link failed: " + output}};
  }
  std::ifstream in(cache);
  std::stringstream text;
  text << in.rdbuf();
  auto pingpong = nlohmann::json::parse(text.str(), nullptr, false);
  if (pingpong.is_discarded()) return {{"rate", rate_}, {"error", "unreadable " + cache.string()}};
  nlohmann::json link = {{"rate", rate_}, {"alpha_us", pingpong.value("alpha_us", 0.0)},
                         {"beta_gbytes_per_s", pingpong.value("beta_gbytes_per_s", 0.0)},
                         {"pingpong_file", cache.filename().string()}};
  if (pingpong.contains("allreduce"))
    link["allreduce"] = {{"alpha_us", pingpong["allreduce"].value("alpha_us", 0.0)},
                         {"gbytes_per_s", pingpong["allreduce"].value("gbytes_per_s", 0.0)}};
  return link;
}

MpiLauncher mpi_launcher(const SuitePoint& point) {
  MpiLauncher launcher;
  if (!mpi_available()) {
    launcher.why_not = "this ffbench was built without MPI (scripts/setup.sh installs Open MPI; configure and build again)";
    return launcher;
  }
  std::string mpirun;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');)
      if (!dir.empty() && access((dir + "/mpirun").c_str(), X_OK) == 0) {
        mpirun = dir + "/mpirun";
        break;
      }
  }
  if (mpirun.empty()) {
    launcher.why_not = "mpirun is not on PATH (apt-get install openmpi-bin, or scripts/setup.sh)";
    return launcher;
  }
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  const bool fits = point.ranks * point.threads <= cores;
  launcher.prefix = {mpirun, "-np", std::to_string(point.ranks)};
  if (geteuid() == 0) launcher.prefix.push_back("--allow-run-as-root");  // containers and CI run as root
  if (!fits) launcher.prefix.push_back("--oversubscribe");               // more ranks x threads than cores: measured anyway, marked by the report
  launcher.prefix.insert(launcher.prefix.end(), {"--bind-to", fits && point.threads == 1 ? "core" : "none"});
  return launcher;
}

}  // namespace ffb
