// Options checked against the declared ones (options.hpp).
#include "algorithms/options.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace ffb {

namespace {
std::string known_names(const std::vector<OptionInfo>& known) {
  std::string names;
  for (const auto& option : known) names += (names.empty() ? "" : ", ") + option.name;
  return names;
}
}  // namespace

Options::Options(const std::string& owner, const std::vector<OptionInfo>& known, const nlohmann::json& given)
    : owner_(owner), values_(nlohmann::json::object()) {
  for (const auto& option : known) values_[option.name] = option.default_value;
  if (given.is_null()) return;
  if (!given.is_object())
    throw std::invalid_argument(fmt::format("{}: options must be a JSON object, got {}", owner, given.dump()));
  for (const auto& [name, value] : given.items()) {
    auto it = values_.find(name);
    if (it == values_.end())
      throw std::invalid_argument(
          fmt::format("{}: unknown option '{}'; known options: {}", owner, name, known_names(known)));
    const auto& expected = *it;
    const bool both_numbers = expected.is_number() && value.is_number();
    if (!both_numbers && expected.type() != value.type())
      throw std::invalid_argument(fmt::format("{}: option '{}' must be a {} (like its default {}), got {}", owner,
                                              name, expected.type_name(), expected.dump(), value.dump()));
    *it = value;
  }
  for (const auto& option : known) {
    const auto& value = values_[option.name];
    if (!value.is_number()) continue;
    const double v = value.get<double>();
    const bool too_low = option.min_exclusive ? !(v > option.min_value) : !(v >= option.min_value);
    if (too_low || !(v <= option.max_value) || !std::isfinite(v))
      throw std::invalid_argument(fmt::format("{}: option '{}' is {}; it must be {} {}{}", owner, option.name, value.dump(),
                                              option.min_exclusive ? ">" : ">=", option.min_value,
                                              std::isfinite(option.max_value) ? fmt::format(" and <= {}", option.max_value) : ""));
  }
}

const nlohmann::json& Options::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::logic_error(fmt::format("{}: option '{}' was never declared", owner_, name));
  return *it;
}

double Options::number(const std::string& name) const { return get(name).get<double>(); }
int64_t Options::integer(const std::string& name) const {
  const double value = get(name).get<double>();
  if (value != std::floor(value))
    throw std::invalid_argument(fmt::format("{}: option '{}' must be a whole number, got {}", owner_, name, value));
  return static_cast<int64_t>(value);
}
bool Options::flag(const std::string& name) const { return get(name).get<bool>(); }
std::string Options::text(const std::string& name) const { return get(name).get<std::string>(); }

std::string Options::choice(const std::string& name, const std::vector<std::string>& allowed) const {
  const auto value = text(name);
  for (const auto& a : allowed)
    if (a == value) return value;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw std::invalid_argument(fmt::format("{}: option '{}' is '{}'; allowed: {}", owner_, name, value, list));
}

}  // namespace ffb
