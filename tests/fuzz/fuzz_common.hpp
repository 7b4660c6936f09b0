// Shared by the libFuzzer targets (one binary per parser): a file the fuzz input is written to, for
// the readers that take a path (the IDX reader, the weights loader, the estimator's run folders).
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace ffb::fuzz {

// A folder of this process's own under the system's temporary folder (several fuzz jobs may run at once).
inline std::filesystem::path scratch() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("ffbench-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {  // libFuzzer ends with exit(): the folder goes with the process
      std::error_code ignored;
      std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("ffbench-fuzz-" + std::to_string(getpid())), ignored);
    });
    return d;
  }();
  return dir;
}

inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const auto path = scratch() / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path.string();
}

}  // namespace ffb::fuzz
