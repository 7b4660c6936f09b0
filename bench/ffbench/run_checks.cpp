// The checks `ffbench run` makes before each point (see run_checks.hpp).
#include "bench/ffbench/run_checks.hpp"

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "datasets/dataset.hpp"
#include "bench/harness/point_status.hpp"

namespace ffb {

namespace fs = std::filesystem;

std::string why_not_finished(const fs::path& result) {
  if (!fs::exists(result)) return "no result yet";
  std::ifstream in(result, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const auto bytes = text.str().size();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const std::exception& e) {
    // The parser quotes the bytes it stopped at: shown as printable ASCII, so the line stays one line.
    std::string what = e.what();
    for (auto& c : what)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    return fmt::format("its result file is unreadable ({} bytes, {})", bytes, what);
  }
  const std::string status = j.is_object() && j.contains("status") && j["status"].is_string() ? j["status"] : "";
  const auto known = point_status_from(status);
  if (known && is_finished(*known)) return "";
  if (known == PointStatus::failed) return fmt::format("its earlier try failed ({})", j.value("detail", "no detail").substr(0, 160));
  return fmt::format("its result file has no finished status ({})", status.empty() ? "none" : "'" + status + "'");
}

namespace {

DataFileFingerprint fingerprint_file(const std::string& path) {
  DataFileFingerprint f{path, 0, 0};
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return f;
  uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64 bit
  unsigned char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    for (size_t i = 0; i < n; ++i) hash = (hash ^ buffer[i]) * 1099511628211ull;
    f.bytes += n;
  }
  f.fnv1a = hash;
  return f;
}

std::string describe(const DataFileFingerprint& f) {
  return f.bytes == 0 && f.fnv1a == 0 ? "missing" : fmt::format("{} bytes, fnv1a {:016x}", f.bytes, f.fnv1a);
}

}  // namespace

std::vector<DataFileFingerprint> fingerprint_datasets(const std::vector<std::string>& names) {
  std::vector<DataFileFingerprint> out;
  for (const auto& name : names)
    for (const auto& path : data::dataset_files(name)) out.push_back(fingerprint_file(path));
  return out;
}

nlohmann::json to_json(const std::vector<DataFileFingerprint>& files) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : files)
    out.push_back({{"path", f.path}, {"bytes", f.bytes}, {"fnv1a", fmt::format("{:016x}", f.fnv1a)}});
  return out;
}

std::vector<DataFileFingerprint> fingerprints_from_json(const nlohmann::json& files) {
  std::vector<DataFileFingerprint> out;
  for (const auto& f : files)
    out.push_back({f.at("path").get<std::string>(), f.at("bytes").get<uint64_t>(),
                   std::stoull(f.at("fnv1a").get<std::string>(), nullptr, 16)});
  return out;
}

std::string changed_dataset_file(const std::vector<DataFileFingerprint>& recorded) {
  for (const auto& before : recorded) {
    const auto now = fingerprint_file(before.path);
    if (now.bytes != before.bytes || now.fnv1a != before.fnv1a)
      return fmt::format("dataset file {} changed since the run started (fingerprint then: {}; now: {}): restore it "
                         "and resume, or start a new run", before.path, describe(before), describe(now));
  }
  return "";
}

}  // namespace ffb
