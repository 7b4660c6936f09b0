// The one explicit list of algorithms. Adding a variant: its folder (CMake picks up its .cpp files)
// and one line here; `ffbench list --json` then hands it to every test, script and report.
#include "algorithms/bp/bp.hpp"
#include "algorithms/dfa/dfa.hpp"
#include "algorithms/fa/fa.hpp"
#include "algorithms/ff/ff.hpp"
#include "algorithms/ff_grouped/ff_grouped.hpp"
#include "algorithms/ff_symba/ff_symba.hpp"
#include "algorithms/mono_forward/mono_forward.hpp"
#include "algorithms/pepita/pepita.hpp"
#include "algorithms/scff/scff.hpp"

namespace ffb {

namespace {
std::unique_ptr<Algorithm> create_bp(const nlohmann::json& options) { return std::make_unique<Backprop>(options); }
}  // namespace

const std::vector<AlgorithmInfo>& registered_algorithms() {
  static const std::vector<AlgorithmInfo> algorithms = {
      {"bp", "backpropagation: ReLU MLP, softmax cross-entropy", Backprop::declared_options(), create_bp, false,
       {{"mnist", 0.986, "ReLU MLPs of the FF paper, about 20 epochs (\"about 1.4 %\" error)", "Hinton (2022), arXiv:2212.13345"}}},
      {"ff", "Forward-Forward (Hinton 2022), supervised, layer-local goodness", ForwardForward::declared_options(), create_ff, true,
       {{"mnist", 0.9864, "4x2000 ReLU, 60 epochs", "Hinton (2022), arXiv:2212.13345"}}},
      {"ff_symba", "SymBa (Lee & Song 2023): FF with softplus(-alpha (g_pos - g_neg))", ff_symba_options(), create_ff_symba, true},
      {"fa", "feedback alignment (Lillicrap et al. 2016): bp with fixed random feedback matrices", Backprop::declared_options(), create_fa, false},
      {"dfa", "direct feedback alignment (Nokland 2016): the output error sent to every layer through fixed random matrices", Backprop::declared_options(), create_dfa, false,
       {{"mnist", 0.9855, "tanh MLPs", "Nokland (2016), NeurIPS"}}},
      {"mono_forward", "Mono-Forward (Gong et al. 2025): per-layer projection to class scores, local cross-entropy", MonoForward::declared_options(), create_mono_forward, true},
      {"ff_grouped", "class-grouped goodness (CwComp / DeeperForward, dense): one unit group per class, local cross-entropy", FFGrouped::declared_options(), create_ff_grouped, true},
      {"pepita", "PEPITA (Dellaferrera & Kreiman 2022): a second forward pass on the error-modulated input", Pepita::declared_options(), create_pepita, false,
       {{"mnist", 0.9801, "1x1024, 100 epochs", "Dellaferrera & Kreiman (2022), ICML"}}},
      {"scff", "self-contrastive FF (Chen et al. 2025): unsupervised, a sample paired with itself or another; a linear probe", SelfContrastiveFF::declared_options(), create_scff, true,
       {{"mnist", 0.987, "the paper's MLP, linear probe", "Chen et al. (2025), Nature Communications"}}},
  };
  return algorithms;
}

}  // namespace ffb
