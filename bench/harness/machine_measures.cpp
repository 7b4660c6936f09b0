// The machine's own measures and the result files' atomic write (declared in point.hpp).
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "algorithms/backend/ceiling.hpp"
#include "bench/harness/point.hpp"

namespace ffb {

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

void write_atomic(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(fmt::format("cannot write {}: check the folder exists and is writable", temp));
    out << content;
    out.flush();
    if (!out) throw std::runtime_error(fmt::format("writing {} failed (disk full?)", temp));
  }
  std::filesystem::rename(temp, path);
}

double measure_gemm_rate() {
  MatmulShape shape;
  shape.m = 256, shape.n = 1000, shape.k = 1000;
  return measure_gemm_ceiling(shape, 0.02, 3).plain_gflops;
}

nlohmann::json peak_fma_json() {
  const auto peak = measure_peak_fma();
  return {{"gflops", peak.gflops}, {"threads", peak.threads}, {"kernel", peak.kernel}};
}

nlohmann::json memory_bandwidth_json() {
  const auto roof = measure_memory_bandwidth();
  return {{"gbps", roof.gbps}, {"threads", roof.threads}, {"bytes_per_pass", roof.bytes_per_pass},
          {"last_level_cache_bytes", roof.last_level_cache_bytes},
          {"method", fmt::format("4 reads + 3 writes per float (an optimizer update's traffic: w, g, m, v read; w, m, v "
                                 "written) over 4 arrays of {:.0f} MiB, each thread its static share; fastest of 5 passes",
                                 static_cast<double>(roof.floats) * 4 / (1 << 20))}};
}

}  // namespace ffb
