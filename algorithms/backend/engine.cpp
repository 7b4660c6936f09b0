// See engine.hpp. oneDNN is built with the OpenMP runtime here, so omp_set_num_threads governs it.
#include "algorithms/backend/engine.hpp"

#include <cstdlib>
#include <thread>

#include <dnnl.hpp>
#include <fmt/format.h>
#include <omp.h>

namespace ffb {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  static dnnl::stream stream(cpu_engine());
  return stream;
}

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
