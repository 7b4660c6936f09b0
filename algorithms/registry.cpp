// The one explicit list of algorithms (registry.hpp). Adding a variant: its folder (CMake picks up
// its .cpp files) and one line here; `ffbench list --json` then hands it to every test, script and report.
#include "algorithms/registry.hpp"

#include <stdexcept>

#include <fmt/format.h>

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

const std::vector<AlgorithmInfo>& registered_algorithms() {
  static const std::vector<AlgorithmInfo> algorithms = {
      {"bp", "backpropagation: ReLU MLP, softmax cross-entropy", Backprop::declared_options(), construct<Backprop>, false,
       {{"mnist", 0.986, "ReLU MLPs of the FF paper, about 20 epochs (\"about 1.4 %\" error)", "Hinton (2022), arXiv:2212.13345"}}},
      {"ff", "Forward-Forward (Hinton 2022), supervised, layer-local goodness", ForwardForward::declared_options(), construct<ForwardForward>, true,
       {{"mnist", 0.9864, "4x2000 ReLU, 60 epochs", "Hinton (2022), arXiv:2212.13345"}}},
      {"ff_symba", "SymBa (Lee & Song 2023): FF with softplus(-alpha (g_pos - g_neg))", SymBa::declared_options(), construct<SymBa>, true},
      {"fa", "feedback alignment (Lillicrap et al. 2016): bp with fixed random feedback matrices", Backprop::declared_options(), construct<FeedbackAlignment>, false},
      {"dfa", "direct feedback alignment (Nokland 2016): the output error sent to every layer through fixed random matrices", Backprop::declared_options(), construct<DirectFeedbackAlignment>, false,
       {{"mnist", 0.9855, "tanh MLPs", "Nokland (2016), NeurIPS"}}},
      {"mono_forward", "Mono-Forward (Gong et al. 2025): per-layer projection to class scores, local cross-entropy", MonoForward::declared_options(), construct<MonoForward>, true},
      {"ff_grouped", "class-grouped goodness (CwComp / DeeperForward, dense): one unit group per class, local cross-entropy", FFGrouped::declared_options(), construct<FFGrouped>, true},
      {"pepita", "PEPITA (Dellaferrera & Kreiman 2022): a second forward pass on the error-modulated input", Pepita::declared_options(), construct<Pepita>, false,
       {{"mnist", 0.9801, "1x1024, 100 epochs", "Dellaferrera & Kreiman (2022), ICML"}}},
      {"scff", "self-contrastive FF (Chen et al. 2025): unsupervised, a sample paired with itself or another; a linear probe", SelfContrastiveFF::declared_options(), construct<SelfContrastiveFF>, true,
       {{"mnist", 0.987, "the paper's MLP, linear probe", "Chen et al. (2025), Nature Communications"}}},
  };
  return algorithms;
}

const AlgorithmInfo& find_algorithm(const std::string& name) {
  for (const auto& info : registered_algorithms())
    if (info.name == name) return info;
  std::string list;
  for (const auto& info : registered_algorithms()) list += (list.empty() ? "" : ", ") + info.name;
  throw std::invalid_argument(fmt::format("unknown algorithm '{}'; registered: {}", name, list));
}

std::unique_ptr<Algorithm> create_algorithm(const std::string& name, const nlohmann::json& options) {
  return find_algorithm(name).create(options);
}

}  // namespace ffb
