// Reading a suite file's JSON objects field by field (errors name the file, the field and what is
// allowed), and the values that need more than a type check: published figures, search dimensions,
// links. Internal to the suite parser (suite.cpp).
#pragma once
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/rng.hpp"

namespace ffb::suite_fields {

struct SuiteError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// One JSON object of a suite file: its keys checked against `allowed` when made, each value read
// with its type and range checked; `fail` throws a SuiteError naming the file and the field.
class Fields {
 public:
  Fields(const nlohmann::json& object, std::string where, std::string origin, std::set<std::string> allowed)
      : object_(object), where_(std::move(where)), origin_(std::move(origin)), allowed_(std::move(allowed)) {
    if (!object_.is_object()) fail(where_, "must be a JSON object");
    for (const auto& [key, value] : object_.items()) {
      (void)value;
      if (!allowed_.count(key)) {
        std::string list;
        for (const auto& a : allowed_) list += (list.empty() ? "" : ", ") + a;
        fail(where_ + "." + key, "is not a known field; allowed here: " + list);
      }
    }
  }
  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw SuiteError(fmt::format("{}: field '{}' {}", origin_, field, problem));
  }
  bool has(const std::string& key) const { return object_.contains(key); }
  const nlohmann::json& raw(const std::string& key) const { return object_.at(key); }
  std::string path(const std::string& key) const { return where_ + "." + key; }

  std::string text(const std::string& key, const std::string& fallback, const std::set<std::string>& choices = {}) const {
    if (!has(key)) return fallback;
    const auto& v = object_.at(key);
    if (!v.is_string()) fail(path(key), "must be a string");
    const auto s = v.get<std::string>();
    if (!choices.empty() && !choices.count(s)) {
      std::string list;
      for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
      fail(path(key), fmt::format("is '{}'; allowed: {}", s, list));
    }
    return s;
  }
  bool flag(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = object_.at(key);
    if (!v.is_boolean()) fail(path(key), fmt::format("must be true or false, got {}", v.dump()));
    return v.get<bool>();
  }
  int64_t integer(const std::string& key, int64_t fallback, int64_t min_value) const {
    if (!has(key)) return fallback;
    return checked_integer(object_.at(key), path(key), min_value);
  }
  double number(const std::string& key, double fallback, double min_value) const {
    if (!has(key)) return fallback;
    const auto& v = object_.at(key);
    if (!v.is_number()) fail(path(key), "must be a number");
    const double d = v.get<double>();
    if (d < min_value) fail(path(key), fmt::format("must be >= {}, got {}", min_value, d));
    return d;
  }
  int64_t checked_integer(const nlohmann::json& v, const std::string& field, int64_t min_value) const {
    if (!v.is_number_integer()) fail(field, fmt::format("must be a whole number, got {}", v.dump()));
    const auto i = v.get<int64_t>();
    if (i < min_value) fail(field, fmt::format("must be >= {}, got {}", min_value, i));
    return i;
  }
  std::vector<int64_t> integers(const std::string& key, std::vector<int64_t> fallback, int64_t min_value) const {
    if (!has(key)) return fallback;
    const auto& v = object_.at(key);
    std::vector<int64_t> out;
    if (v.is_number()) {
      out.push_back(checked_integer(v, path(key), min_value));
      return out;
    }
    if (!v.is_array() || v.empty()) fail(path(key), "must be a whole number or a non-empty list of them");
    for (size_t i = 0; i < v.size(); ++i) out.push_back(checked_integer(v[i], fmt::format("{}[{}]", path(key), i), min_value));
    return out;
  }
  std::vector<double> numbers(const std::string& key) const {
    std::vector<double> out;
    if (!has(key)) return out;
    const auto& v = object_.at(key);
    if (!v.is_array()) fail(path(key), "must be a list of numbers");
    for (const auto& item : v) {
      if (!item.is_number()) fail(path(key), "must be a list of numbers");
      out.push_back(item.get<double>());
    }
    return out;
  }

 private:
  const nlohmann::json& object_;
  std::string where_, origin_;
  std::set<std::string> allowed_;
};

// `text` with every character but letters, digits, '-', '_' and '.' replaced by '-': a file-name safe id.
std::string safe(const std::string& text);

// FNV-1a of `text` (seeds a tune entry's draws by its label).
uint64_t fnv1a(const std::string& text);

// The `published` field of `f` (at `where`), checked: a list of figures.
nlohmann::json parse_published(const Fields& f, const std::string& where, const std::string& origin);

// Checks one search dimension and draws one value from it (see suite_fields.cpp).
nlohmann::json sample_dimension(const Fields& owner, const nlohmann::json& spec, const std::string& where, Rng& rng);

// The `links` of experiment `f` (at `where`), checked; {"none"} when it has none.
std::vector<std::string> links_of(const Fields& f, const std::string& where);

}  // namespace ffb::suite_fields
