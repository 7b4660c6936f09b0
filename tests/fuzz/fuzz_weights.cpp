// libFuzzer target: the weights loader (Algorithm::load) of a small ff and bp on any bytes. A bad file
// must end in an exception and leave the model as it was (the loader stages everything first).
#include <memory>
#include <stdexcept>
#include <vector>

#include "algorithms/registry.hpp"
#include "tests/fuzz/fuzz_common.hpp"

namespace {
std::vector<std::unique_ptr<ffb::Algorithm>>& models() {
  static std::vector<std::unique_ptr<ffb::Algorithm>> made = [] {
    std::vector<std::unique_ptr<ffb::Algorithm>> out;
    for (const char* name : {"ff", "bp"}) {
      auto algorithm = ffb::create_algorithm(name, nlohmann::json::object());
      algorithm->setup(ffb::ModelSpec{16, {8, 8}, 10}, 4, 1);
      out.push_back(std::move(algorithm));
    }
    return out;
  }();
  return made;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ffb::fuzz::write_input("input.weights", data, size);
  for (auto& algorithm : models()) {
    try {
      algorithm->load(path);
    } catch (const std::exception&) {
    }
  }
  return 0;
}
