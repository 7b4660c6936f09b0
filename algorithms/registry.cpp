// The one explicit list of algorithms. Adding a variant: its folder, its sources in
// algorithms/CMakeLists.txt, and one line here.
#include "algorithms/bp/bp.hpp"
#include "algorithms/ff/ff.hpp"
#include "algorithms/ff_symba/ff_symba.hpp"

namespace ffb {

namespace {
std::unique_ptr<Algorithm> create_bp(const nlohmann::json& options) { return std::make_unique<Backprop>(options); }
}  // namespace

const std::vector<AlgorithmInfo>& registered_algorithms() {
  static const std::vector<AlgorithmInfo> algorithms = {
      {"bp", "backpropagation: ReLU MLP, softmax cross-entropy", Backprop::declared_options(), create_bp},
      {"ff", "Forward-Forward (Hinton 2022), supervised, layer-local goodness", ForwardForward::declared_options(), create_ff},
      {"ff_symba", "SymBa (Lee & Song 2023): FF with softplus(-alpha (g_pos - g_neg))", ff_symba_options(), create_ff_symba},
  };
  return algorithms;
}

}  // namespace ffb
