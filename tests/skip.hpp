// A test that cannot run here (a dataset not fetched, a CPU without bf16) ends its process with
// ctest's skip code, so ctest counts it as skipped in its closing line instead of a pass with a
// warning (tests/CMakeLists.txt sets SKIP_RETURN_CODE). Each ctest test is its own process.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ffb::testing {

constexpr int kSkipReturnCode = 77;

[[noreturn]] inline void skip_test(const std::string& why) {
  std::fprintf(stderr, "SKIPPED: %s\n", why.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(kSkipReturnCode);
}

}  // namespace ffb::testing
