// See engine.hpp. oneDNN is built with the OpenMP runtime here, so omp_set_num_threads governs it.
#include "algorithms/backend/engine.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <dnnl.hpp>
#include <fmt/format.h>
#include <omp.h>

namespace ffb {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

namespace {
std::vector<std::unique_ptr<dnnl::stream>>& streams() {
  static std::vector<std::unique_ptr<dnnl::stream>> all;
  return all;
}
std::mutex streams_mutex;
thread_local int stream_slot = 0;
}  // namespace

void prepare_streams(int n) {
  std::lock_guard<std::mutex> lock(streams_mutex);
  auto& all = streams();
  while (static_cast<int>(all.size()) < std::max(n, 1)) all.push_back(std::make_unique<dnnl::stream>(cpu_engine()));
}

dnnl::stream& cpu_stream() {
  auto& all = streams();
  if (stream_slot >= static_cast<int>(all.size()))
    throw std::logic_error(fmt::format("oneDNN stream slot {} was not prepared (prepare_streams({}) during setup)",
                                       stream_slot, stream_slot + 1));
  return *all[static_cast<size_t>(stream_slot)];
}

StreamSlot::StreamSlot(int slot) : saved_(stream_slot) { stream_slot = slot; }
StreamSlot::~StreamSlot() { stream_slot = saved_; }

void set_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  omp_set_num_threads(n);
}

int threads() { return omp_get_max_threads(); }

std::string threading_description() {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "(unset)");
  };
  return fmt::format("threads={} OMP_NUM_THREADS={} OMP_WAIT_POLICY={} OMP_PROC_BIND={} hardware_threads={}",
                     threads(), env("OMP_NUM_THREADS"), env("OMP_WAIT_POLICY"), env("OMP_PROC_BIND"),
                     std::thread::hardware_concurrency());
}

}  // namespace ffb
