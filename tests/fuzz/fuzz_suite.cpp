// libFuzzer target: the suite parser (bench/harness/suite.cpp) on any text: a suite file, and through
// it every experiment's fields, sweeps, algorithm entries and options (each entry's options are checked
// by creating the algorithm). A malformed file must end in a SuiteError/invalid_argument, never a crash.
#include <stdexcept>
#include <string>

#include "bench/harness/suite.hpp"

namespace {
bool every_dataset(const std::string&) { return true; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto suite = ffb::parse_suite(text, "fuzz.json", &every_dataset);
    for (const auto& point : suite.points) (void)ffb::SuitePoint::from_json(point.to_json());  // what a point process reads back
  } catch (const std::exception&) {
  }
  return 0;
}
