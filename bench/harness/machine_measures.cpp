// The machine's own measures and the result files' atomic write (declared in point.hpp).
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
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

// The content goes to PATH.tmp, then a rename puts it in place: a reader (or a resume after a kill)
// sees the old file or the whole new one, never half of it. A failed write (a full disk) removes its
// temporary file and names the file and the system's reason, so the user knows where to free space.
void write_atomic(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error(fmt::format("cannot write {}: {}; check the folder exists, is writable and has space",
                                         temp, std::strerror(errno)));
  size_t written = 0;
  int error = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : ENOSPC;
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    ::unlink(temp.c_str());
    throw std::runtime_error(fmt::format("writing {} failed after {} of {} bytes: {}; free space on its disk (or "
                                         "move the run folder) and run again; what was written before is intact",
                                         path, written, content.size(), std::strerror(error)));
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
