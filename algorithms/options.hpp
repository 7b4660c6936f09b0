// An algorithm's options: the declared ones (name, default, range, help) and the values a user
// gave, checked against them when the algorithm is created.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ffb {

// One declared option: its name, default (as JSON) and a one-line description.
struct OptionInfo {
  std::string name;
  nlohmann::json default_value;
  std::string help;
  // Numeric options: the allowed range (a learning rate of -1 is an error, not a run of garbage).
  double min_value = -std::numeric_limits<double>::infinity();
  double max_value = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;  // true: the value must be strictly above min_value
};

// Options given by the user, checked against the declared ones. An unknown option, or a value of
// the wrong type or out of range, is an error that names the known options or the range.
class Options {
 public:
  Options(const std::string& owner, const std::vector<OptionInfo>& known, const nlohmann::json& given);
  double number(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  bool flag(const std::string& name) const;
  std::string text(const std::string& name) const;
  // Checks that a text option is one of `allowed`, with an error listing them.
  std::string choice(const std::string& name, const std::vector<std::string>& allowed) const;
  const nlohmann::json& values() const { return values_; }

 private:
  const nlohmann::json& get(const std::string& name) const;
  std::string owner_;
  nlohmann::json values_;
};

}  // namespace ffb
