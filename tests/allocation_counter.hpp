// Counts heap allocations at the C allocator (malloc, calloc, realloc, the aligned allocators), on
// every thread: ours, libstdc++'s operator new, the OpenMP runtime's (a parallel region that runs on
// one thread allocates its team in libgomp) and any library's. Allocations with a oneDNN frame on
// their stack are counted apart as oneDNN's: its C API builds a map of a primitive's arguments on
// every execute, which we do not control.
// AddressSanitizer owns the allocator, so under it counting is unavailable (available() is false).
#pragma once

#include <cstdint>
#include <string>

namespace ffb::testing {

struct AllocationCount {
  int64_t ours = 0;     // outside oneDNN calls: these break "no allocation inside a training step"
  int64_t library = 0;  // oneDNN's own, inside its calls
};

class AllocationCounter {
 public:
  static bool available();
  // Starts counting from zero on every thread (and records where the first allocations came from).
  static void start();
  static AllocationCount stop();
  // The call stacks of the first counted allocations outside library calls, symbolised (one per
  // line group); empty when there were none.
  static std::string sites();
};

}  // namespace ffb::testing
