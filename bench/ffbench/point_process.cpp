// See point_process.hpp.
#include "bench/ffbench/point_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

extern char** environ;

namespace ffb {

namespace fs = std::filesystem;

namespace {

// A stop asked of `ffbench run` (SIGINT, SIGTERM, SIGHUP sent to it alone, e.g. by `kill` or
// `pkill`, not only Ctrl-C to the whole group) reaches the point it is running, which stops too; the
// sweep then ends as interrupted, resumable. Between points, the sweep stops before the next one.
volatile sig_atomic_t g_stop_signal = 0;
volatile sig_atomic_t g_child_pid = 0;

void forward_stop(int sig) {
  g_stop_signal = sig;
  if (g_child_pid > 0) kill(static_cast<pid_t>(g_child_pid), sig);
}

}  // namespace

void install_stop_forwarding() {
  struct sigaction action {};
  action.sa_handler = forward_stop;
  sigemptyset(&action.sa_mask);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
}

int stop_signal() { return static_cast<int>(g_stop_signal); }

int spawn_and_wait(const std::vector<std::string>& args, const std::string& stderr_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(fmt::format("cannot start {}: {}", args[0], std::strerror(rc)));
  g_child_pid = pid;
  if (g_stop_signal != 0) kill(pid, g_stop_signal);  // asked to stop while it was starting
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child_pid = 0;
  return status;
}

std::string tail(const std::string& text, size_t lines) {
  if (text.empty()) return text;  // a child killed before it wrote anything
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

std::string self_path() { return fs::read_symlink("/proc/self/exe").string(); }

PointLaunch launch_of(const SuitePoint& point, const std::string& source, const fs::path& run_dir, int index, int total,
                      double elapsed, const fs::path& point_file, const fs::path& result) {
  PointLaunch launch;
  if (point.engine == "torch") {
    launch.command = {"/usr/bin/python3", source + "/scripts/peers/torch_peer.py", "--point", point_file.string(), "--out",
                      result.string()};
    return launch;
  }
  launch.command = {self_path(), "point", "--point-file", point_file.string(), "--out", result.string(), "--index",
                    std::to_string(index), "--total", std::to_string(total), "--elapsed", fmt::format("{:.1f}", elapsed)};
  if (point.ranks <= 1) return launch;
  auto launcher = mpi_launcher(point);
  if (launcher.why_not.empty() && !point.link.empty()) {  // ranks in namespaces joined by an emulated link
    launch.link = std::make_unique<EmulatedLink>(source + "/scripts/cluster/emulated_link.sh", point.link);
    launcher.why_not = point.ranks != 2 ? "an emulated link joins 2 ranks" : launch.link->why_not();
    if (launcher.why_not.empty()) {
      launcher.prefix = launch.link->mpirun_prefix(point.ranks);
      launch.link_json = launch.link->measured(self_path(), run_dir / "links" / (point.link + ".json"));
    }
  }
  launch.why_not = launcher.why_not;
  if (launch.why_not.empty()) launch.command.insert(launch.command.begin(), launcher.prefix.begin(), launcher.prefix.end());
  return launch;
}

}  // namespace ffb
