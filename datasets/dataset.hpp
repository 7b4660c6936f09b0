// Datasets for the benchmark (MNIST, Fashion-MNIST, and a seeded synthetic task that needs no
// download) plus a Batcher that produces reproducible shuffled mini-batches without allocating.
// Shape vocabulary: B batch, D input size, K classes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/idx.hpp"

namespace ffb::data {

struct Dataset {
  std::string name;
  int64_t n = 0;  // samples
  int64_t d = 0;  // D, inputs per sample
  int k = 0;      // K, classes
  std::vector<float> x;  // n*d row-major, values in [0, 1] (standardized: (value - mean) / stdev)
  std::vector<int32_t> y;  // n labels in [0, k)
  double mean = 0.0, stdev = 1.0;  // the standardization applied (identity unless asked for)
};

struct Splits {
  Dataset train;
  Dataset test;
  Dataset validation;  // empty (n == 0) unless DatasetSpec::validation > 0
};

// The one list of datasets: name and a one-line description. Suites, `ffbench list` and every error
// that names the known datasets read it.
struct DatasetInfo {
  std::string name;
  std::string summary;
  bool downloaded;  // false: generated from a seed, always available
};
const std::vector<DatasetInfo>& registered_datasets();
// "mnist, fashion, synthetic": the registered names, for messages.
std::string dataset_names();

// Where downloaded datasets live: $FFBENCH_DATA if set, else $XDG_CACHE_HOME/ffbench, else
// $HOME/.cache/ffbench. scripts/fetch_data.sh follows the same rule.
std::string data_dir();

struct DatasetSpec {
  std::string name = "synthetic";  // one of registered_datasets()
  int64_t validation = 0;  // samples carved from the END of the full train split
  uint64_t seed = 1;       // synthetic data only; shuffling has its own seed in Batcher
  int64_t synthetic_train = 10000, synthetic_test = 2000;
  int64_t synthetic_d = 784;
  int synthetic_k = 10;
  int64_t limit_train = 0;  // 0 = all; else keep the first N train samples (for quick runs)
  int64_t limit_test = 0;   // 0 = all; else keep the first N test samples
  // Shift and scale every pixel by the mean and standard deviation of all pixels of the full
  // train split (MNIST: 0.1307 and 0.3081, as torchvision's Normalize in the PyTorch reference).
  bool standardize = false;
};

// Loads the named dataset. The validation split is taken from the end of the full train split
// before limit_train applies, so it stays the same whatever limit a quick run uses.
Splits load(const DatasetSpec& spec);

// A dataset's sizes, known without loading it: what the harness plans and estimates with. The
// image datasets' are their published sizes; the synthetic one's are those a default DatasetSpec makes.
struct DatasetShape {
  int64_t input = 0;  // D
  int classes = 0;    // K
  int64_t train = 0;  // samples in the full train split (before any validation carve-out or limit)
  int64_t test = 0;
};
// Throws DataError, naming the known datasets, for an unknown name.
DatasetShape shape_of(const std::string& name);

// True when `name` can be loaded without downloading anything (synthetic always can).
bool is_available(const std::string& name);
// The files a downloaded dataset is read from (none for a generated one), e.g. to fingerprint them.
std::vector<std::string> dataset_files(const std::string& name);

// Hands out mini-batches of a dataset in a seeded order. The order of an epoch depends only on
// (seed, epoch), so runs are reproducible and an epoch can be replayed on its own. All memory
// is allocated in the constructor; start_epoch and next never allocate. The dataset must
// outlive the Batcher.
class Batcher {
 public:
  Batcher(const Dataset& dataset, int64_t batch, uint64_t seed, bool shuffle = true,
          bool drop_last = true);

  int64_t batches_per_epoch() const;

  // Resets to the start of `epoch` with that epoch's order. The constructor starts epoch 0.
  void start_epoch(int64_t epoch);

  // Copies the next batch into caller buffers of at least B*D floats and B labels. Returns the
  // rows copied: B, fewer for the final partial batch when drop_last is false, 0 at epoch end.
  int64_t next(float* x_out, int32_t* y_out);

 private:
  const Dataset& dataset_;
  int64_t batch_;
  uint64_t seed_;
  bool shuffle_;
  int64_t rows_per_epoch_;  // n, or n rounded down to whole batches when drop_last
  std::vector<int64_t> order_;
  int64_t cursor_ = 0;
};

}  // namespace ffb::data
