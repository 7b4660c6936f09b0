// libFuzzer target: the IDX reader (datasets/idx.cpp) on any bytes, raw and through zlib (the reader
// takes the gzip path when the first two bytes are 1f 8b, so one target reaches both). A bad file
// must end in an exception that names it, never a crash, a hang or an oversized allocation.
#include <stdexcept>

#include "datasets/idx.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ffb::fuzz::write_input("input.idx", data, size);
  try {
    // 16 MiB is far above every seed and below the fuzzer's memory limit: the declared size is checked
    // against it before any payload is allocated.
    const auto array = ffb::data::read_idx(path, 16u << 20);
    (void)array;
  } catch (const std::exception&) {
  }
  return 0;
}
