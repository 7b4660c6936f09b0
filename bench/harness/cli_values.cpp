// See cli_values.hpp.
#include "bench/harness/cli_values.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace ffb {

std::vector<int64_t> parse_layers(const std::string& text) {
  std::vector<int64_t> sizes;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    try {
      size_t used = 0;
      const long long value = std::stoll(item, &used);
      if (used != item.size() || value <= 0) throw std::invalid_argument(item);
      sizes.push_back(value);
    } catch (const std::exception&) {
      throw std::invalid_argument(fmt::format("--layers '{}': '{}' is not a positive integer; write sizes like 784,500,500", text, item));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (sizes.size() < 2)
    throw std::invalid_argument(fmt::format("--layers '{}': give the input size and at least one hidden size, like 784,500,500", text));
  return sizes;
}

nlohmann::json parse_option_values(const std::vector<std::string>& items, const std::string& json_text) {
  nlohmann::json options = nlohmann::json::object();
  if (!json_text.empty()) {
    try {
      options = nlohmann::json::parse(json_text);
    } catch (const std::exception& e) {
      throw std::invalid_argument(fmt::format("--options is not valid JSON ({}); write e.g. '{{\"lr\": 0.01}}'", e.what()));
    }
    if (!options.is_object()) throw std::invalid_argument("--options must be a JSON object, e.g. '{\"lr\": 0.01}'");
  }
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument(fmt::format("--option '{}': write NAME=VALUE, e.g. --option lr=0.01", item));
    const std::string name = item.substr(0, eq), value = item.substr(eq + 1);
    try {
      options[name] = nlohmann::json::parse(value);
    } catch (const std::exception&) {
      options[name] = value;  // a bare word is a string
    }
  }
  return options;
}

}  // namespace ffb
