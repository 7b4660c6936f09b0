// SymBa variant of Forward-Forward: the registry's entry points. See ff_symba.cpp and README.md.
#pragma once
#include <memory>
#include <vector>

#include "algorithms/algorithm.hpp"

namespace ffb {
std::vector<OptionInfo> ff_symba_options();
std::unique_ptr<Algorithm> create_ff_symba(const nlohmann::json& options);
}  // namespace ffb
