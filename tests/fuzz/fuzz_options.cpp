// libFuzzer target: an algorithm's options from the command line (-o NAME=VALUE items, --options JSON:
// bench/harness/cli_values.cpp) and their validation when the algorithm is created, for every registered
// algorithm; and --layers. Input: the first byte picks the algorithm, the rest splits at newlines into
// -o items, a line starting with '{' being --options and one starting with 'L' being --layers.
#include <stdexcept>
#include <string>
#include <vector>

#include "algorithms/registry.hpp"
#include "bench/harness/cli_values.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& algorithms = ffb::registered_algorithms();
  const std::string name = algorithms[data[0] % algorithms.size()].name;
  std::vector<std::string> items;
  std::string json, layers, line;
  for (size_t i = 1; i <= size; ++i) {
    if (i == size || data[i] == '\n') {
      if (!line.empty() && line[0] == '{') json = line;
      else if (!line.empty() && line[0] == 'L') layers = line.substr(1);
      else if (!line.empty()) items.push_back(line);
      line.clear();
    } else {
      line += static_cast<char>(data[i]);
    }
  }
  try {
    (void)ffb::create_algorithm(name, ffb::parse_option_values(items, json));
  } catch (const std::exception&) {
  }
  try {
    if (!layers.empty()) (void)ffb::parse_layers(layers);
  } catch (const std::exception&) {
  }
  return 0;
}
