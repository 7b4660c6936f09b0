// Values given on the command line, parsed with errors that say how to write them: the layer sizes
// (--layers 784,500,500) and an algorithm's options (-o NAME=VALUE, --options JSON). In the harness so
// that the fuzz targets (tests/fuzz/) reach the same code the ffbench command runs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ffb {

// "784,500,500" -> {784, 500, 500}: positive integers, the input size and at least one hidden size.
std::vector<int64_t> parse_layers(const std::string& text);
// -o NAME=VALUE items (VALUE as JSON where it parses, else a string) over --options JSON (an object).
nlohmann::json parse_option_values(const std::vector<std::string>& items, const std::string& json_text);

}  // namespace ffb
