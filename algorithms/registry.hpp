// The registry: the one explicit list of algorithms (registry.cpp). `ffbench list --json` hands it
// to every test, script and report.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "algorithms/algorithm.hpp"

namespace ffb {

// A test accuracy the algorithm's source published, shown in the report beside the suite's own
// figure. The setups differ (network, epochs, augmentation): `setup` says the source's.
struct PublishedAccuracy {
  std::string dataset;  // a registered dataset name
  double accuracy = 0.0;
  std::string setup;
  std::string source;
};

struct AlgorithmInfo {
  std::string name;
  std::string summary;
  std::vector<OptionInfo> options;
  std::unique_ptr<Algorithm> (*create)(const nlohmann::json& options);
  bool layer_local = false;  // every layer learns from what reaches it from below (no backward pass across layers)
  std::vector<PublishedAccuracy> published = {};
};

// The factory of an algorithm constructed from its options alone (every registered one).
template <class A>
std::unique_ptr<Algorithm> construct(const nlohmann::json& options) {
  return std::make_unique<A>(options);
}

const std::vector<AlgorithmInfo>& registered_algorithms();
const AlgorithmInfo& find_algorithm(const std::string& name);  // throws listing the registered ones
std::unique_ptr<Algorithm> create_algorithm(const std::string& name, const nlohmann::json& options);

}  // namespace ffb
