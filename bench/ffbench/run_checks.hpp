// What `ffbench run` checks before it runs a point: whether the point's result file already holds a
// finished result (and, if not, why it runs again), and whether the dataset files are still the ones
// the run started with, so a sweep never mixes results from two versions of its data.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ffb {

// Empty when `result` holds a finished point (ok, diverged, collapsed, skipped); else why the point
// runs (again): "no result yet", "its result file is unreadable (...)", "its earlier try failed (...)".
std::string why_not_finished(const std::filesystem::path& result);
inline bool finished(const std::filesystem::path& result) { return why_not_finished(result).empty(); }

// One file a dataset is read from, as it was when fingerprinted: its size and the FNV-1a hash of its
// bytes (fast, not cryptographic: it tells a replaced or edited file, not a forged one).
struct DataFileFingerprint {
  std::string path;
  uint64_t bytes = 0;
  uint64_t fnv1a = 0;
};

// The files of the named datasets (none for the generated 'synthetic'), fingerprinted now; a file
// that is missing is recorded with bytes = 0 and hash 0.
std::vector<DataFileFingerprint> fingerprint_datasets(const std::vector<std::string>& names);
nlohmann::json to_json(const std::vector<DataFileFingerprint>& files);
std::vector<DataFileFingerprint> fingerprints_from_json(const nlohmann::json& files);

// Empty when every recorded file is unchanged; else the error for the first changed one, naming the
// file, both fingerprints and what to do.
std::string changed_dataset_file(const std::vector<DataFileFingerprint>& recorded);

}  // namespace ffb
