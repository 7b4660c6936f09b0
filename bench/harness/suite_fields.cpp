// See suite_fields.hpp.
#include "bench/harness/suite_fields.hpp"

#include <cctype>
#include <cmath>

namespace ffb::suite_fields {

namespace {

// The rounding of sampled continuous values (3 significant digits): readable configurations.
double three_digits(double value) {
  if (value == 0.0 || !std::isfinite(value)) return value;
  const double scale = std::pow(10.0, 2 - static_cast<int>(std::floor(std::log10(std::fabs(value)))));
  return std::round(value * scale) / scale;
}

}  // namespace

std::string safe(const std::string& text) {
  std::string out;
  for (char c : text) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '-';
  return out;
}

// A published figure: {"test_error", "band", "source", optional "mode", "note"}, or a list of them.
nlohmann::json parse_published(const Fields& f, const std::string& where, const std::string& origin) {
  const auto& value = f.raw("published");
  const nlohmann::json list = value.is_array() ? value : nlohmann::json::array({value});
  if (list.empty()) f.fail(where, "must be an object like {\"test_error\": 0.0144, \"band\": 0.016, \"source\": \"...\"} or a non-empty list of them");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string item = value.is_array() ? fmt::format("{}[{}]", where, i) : where;
    Fields pf(list[i], item, origin, {"test_error", "band", "source", "mode", "note"});
    if (!pf.has("test_error") || !pf.has("band") || !pf.has("source"))
      pf.fail(item, "needs test_error (the published figure, a fraction: 0.0144 for 1.44%), band (the highest test error "
                    "that counts as reproduced) and source");
    const double error = pf.number("test_error", 0.0, 0.0), band = pf.number("band", 0.0, 0.0);
    if (error > 1.0 || band > 1.0) pf.fail(item + ".test_error", "and band are fractions in [0, 1] (0.0144 for 1.44%)");
    if (band < error) pf.fail(item + ".band", fmt::format("is {}, below the published test error {}: the band is the "
                                                        "highest test error that still counts as reproduced", band, error));
    pf.text("source", "");
    pf.text("mode", "");
    pf.text("note", "");
  }
  return list;
}

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

// Checks one search dimension ({"log_uniform": [lo, hi]}, {"uniform": [lo, hi]}, {"int_uniform":
// [lo, hi]} or {"choice": [values]}) and draws one value from it.
nlohmann::json sample_dimension(const Fields& owner, const nlohmann::json& spec, const std::string& where, Rng& rng) {
  if (!spec.is_object() || spec.size() != 1)
    owner.fail(where, "must be one distribution: {\"log_uniform\": [lo, hi]}, {\"uniform\": [lo, hi]}, "
                      "{\"int_uniform\": [lo, hi]} or {\"choice\": [values]}");
  const std::string kind = spec.begin().key();
  const nlohmann::json args = spec.begin().value();
  const std::string at = where + "." + kind;
  if (kind == "choice") {
    if (!args.is_array() || args.empty()) owner.fail(at, "must be a non-empty list of values");
    return args[rng.below(args.size())];
  }
  if (kind != "log_uniform" && kind != "uniform" && kind != "int_uniform")
    owner.fail(at, "is not a known distribution; allowed: choice, int_uniform, log_uniform, uniform");
  if (!args.is_array() || args.size() != 2 || !args[0].is_number() || !args[1].is_number())
    owner.fail(at, "must be [lo, hi], two numbers");
  const double lo = args[0].get<double>(), hi = args[1].get<double>();
  if (!(hi > lo)) owner.fail(at, fmt::format("must have lo < hi, got [{}, {}]", lo, hi));
  if (kind == "int_uniform") {
    if (!args[0].is_number_integer() || !args[1].is_number_integer()) owner.fail(at, "must be two whole numbers");
    const auto low = args[0].get<int64_t>();
    return low + static_cast<int64_t>(rng.below(static_cast<uint64_t>(args[1].get<int64_t>() - low + 1)));
  }
  const double u = static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53;
  if (kind == "uniform") return three_digits(lo + u * (hi - lo));
  if (!(lo > 0.0)) owner.fail(at, fmt::format("needs lo > 0 (a logarithmic scale), got {}", lo));
  return three_digits(std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo))));
}

// An experiment's `links` (its distributed entries' network, a sweep axis): "none" (shared memory on
// this host), "unshaped" (two namespaces joined by a veth pair) or a rate such as "1gbit" or "500mbit"
// (the pair shaped by tc tbf); scripts/cluster/emulated_link.sh makes them.
std::vector<std::string> links_of(const Fields& f, const std::string& where) {
  if (!f.has("links")) return {"none"};
  const auto& raw = f.raw("links");
  if (!raw.is_array() || raw.empty()) f.fail(where + ".links", "must be a non-empty list like [\"none\", \"1gbit\", \"10gbit\"]");
  std::vector<std::string> links;
  for (const auto& item : raw) {
    const std::string link = item.is_string() ? item.get<std::string>() : "";
    size_t digits = 0;
    while (digits < link.size() && std::isdigit(static_cast<unsigned char>(link[digits]))) ++digits;
    const std::string unit = link.substr(digits);
    if (link != "none" && link != "unshaped" && (digits == 0 || (unit != "gbit" && unit != "mbit")))
      f.fail(where + ".links", fmt::format("has '{}'; each must be \"none\" (shared memory), \"unshaped\" or a rate like "
                                           "\"1gbit\" or \"500mbit\"", item.dump()));
    links.push_back(link);
  }
  return links;
}

}  // namespace ffb::suite_fields
