// Tests for dataset loading, splitting and batching: the synthetic task is deterministic and
// balanced, splits have the requested sizes, Batcher orders are reproducible per (seed, epoch),
// and the real MNIST / Fashion-MNIST files (when fetched) have their published shapes.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"
#include "tests/skip.hpp"

namespace fs = std::filesystem;
using namespace ffb::data;
using Catch::Matchers::Contains;

namespace {

// Small enough to generate in milliseconds even under sanitizers.
DatasetSpec small_synthetic(uint64_t seed) {
  DatasetSpec spec;
  spec.seed = seed;
  spec.synthetic_train = 400;
  spec.synthetic_test = 100;
  spec.synthetic_d = 64;
  spec.synthetic_k = 5;
  return spec;
}

// A dataset whose every input equals its row index, so a batch reveals which samples it holds.
Dataset indexed_dataset(int64_t n, int64_t d) {
  Dataset dataset;
  dataset.name = "indexed";
  dataset.n = n;
  dataset.d = d;
  dataset.k = 1;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) dataset.x.push_back(static_cast<float>(i));
    dataset.y.push_back(static_cast<int32_t>(i));
  }
  return dataset;
}

// Sample order of one epoch, read back through next(); checks that x and y stay together.
std::vector<int32_t> epoch_order(Batcher& batcher, const Dataset& dataset, int64_t batch,
                                 int64_t epoch) {
  batcher.start_epoch(epoch);
  std::vector<float> x(static_cast<size_t>(batch * dataset.d));
  std::vector<int32_t> y(static_cast<size_t>(batch));
  std::vector<int32_t> order;
  while (const int64_t rows = batcher.next(x.data(), y.data())) {
    REQUIRE(rows <= batch);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < dataset.d; ++j) {
        REQUIRE(x[static_cast<size_t>(r * dataset.d + j)] == static_cast<float>(y[static_cast<size_t>(r)]));
      }
      order.push_back(y[static_cast<size_t>(r)]);
    }
  }
  return order;
}

// Sets an environment variable for one scope and restores the previous value afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) previous_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (previous_) {
      ::setenv(name_, previous_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> previous_;
};

template <class Action>
std::string data_error_message(Action&& action) {
  try {
    action();
  } catch (const DataError& error) {
    return error.what();
  }
  FAIL("expected a DataError, but nothing was thrown");
  return {};
}

void check_image_splits(const Splits& splits, const std::string& name) {
  CHECK(splits.train.name == name);
  CHECK(splits.train.n == 60000);
  CHECK(splits.test.n == 10000);
  CHECK(splits.train.d == 784);
  CHECK(splits.test.d == 784);
  CHECK(splits.train.k == 10);
  const DatasetShape shape = shape_of(name);  // what the harness plans with, without loading
  CHECK(shape.input == splits.train.d);
  CHECK(shape.classes == splits.train.k);
  CHECK(shape.train == splits.train.n);
  CHECK(shape.test == splits.test.n);
  CHECK(splits.train.x.size() == 60000u * 784u);
  CHECK(splits.test.y.size() == 10000u);
  for (const Dataset* split : {&splits.train, &splits.test}) {
    CHECK(std::all_of(split->y.begin(), split->y.end(), [](int32_t y) { return y >= 0 && y < 10; }));
    const auto [lowest, highest] = std::minmax_element(split->x.begin(), split->x.end());
    CHECK(*lowest == 0.0f);
    CHECK(*highest == Approx(1.0f));
    std::set<int32_t> classes(split->y.begin(), split->y.end());
    CHECK(classes.size() == 10);
  }
}

}  // namespace

TEST_CASE("synthetic data is deterministic in its seed", "[dataset]") {
  const Splits first = load(small_synthetic(5));
  const Splits again = load(small_synthetic(5));
  const Splits other = load(small_synthetic(6));
  CHECK(first.train.x == again.train.x);
  CHECK(first.train.y == again.train.y);
  CHECK(first.test.x == again.test.x);
  CHECK(first.test.y == again.test.y);
  CHECK(first.train.x != other.train.x);
  CHECK(first.train.y != other.train.y);
  CHECK(first.train.x != first.test.x);  // train and test use different streams
}

TEST_CASE("standardize shifts and scales by the train split's own mean and deviation", "[dataset]") {
  DatasetSpec spec = small_synthetic(5);
  const Splits plain = load(spec);
  spec.standardize = true;
  const Splits standard = load(spec);
  double sum = 0.0, squares = 0.0;
  for (float v : standard.train.x) {
    sum += v;
    squares += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(standard.train.x.size());
  CHECK(sum / n == Approx(0.0).margin(1e-4));
  CHECK(squares / n == Approx(1.0).epsilon(1e-3));
  // The test split uses the train split's statistics, not its own.
  REQUIRE(standard.train.stdev > 0.0);
  const float expected = static_cast<float>((plain.test.x[7] - standard.train.mean) / standard.train.stdev);
  CHECK(standard.test.x[7] == Approx(expected).epsilon(1e-5));
}

TEST_CASE("synthetic data has the requested shape, pixel range and a blank label area",
          "[dataset]") {
  const DatasetSpec spec = small_synthetic(3);
  const Splits splits = load(spec);
  for (const Dataset* split : {&splits.train, &splits.test}) {
    CHECK(split->name == "synthetic");
    CHECK(split->d == spec.synthetic_d);
    CHECK(split->k == spec.synthetic_k);
    REQUIRE(split->x.size() == static_cast<size_t>(split->n * split->d));
    REQUIRE(split->y.size() == static_cast<size_t>(split->n));
    CHECK(std::all_of(split->x.begin(), split->x.end(), [](float v) { return v >= 0.0f && v <= 1.0f; }));
    CHECK(std::all_of(split->y.begin(), split->y.end(),
                      [&](int32_t y) { return y >= 0 && y < spec.synthetic_k; }));
    for (int64_t i = 0; i < split->n; ++i) {
      for (int c = 0; c < split->k; ++c) REQUIRE(split->x[static_cast<size_t>(i * split->d + c)] == 0.0f);
    }
  }
  CHECK(splits.train.n == spec.synthetic_train);
  CHECK(splits.test.n == spec.synthetic_test);
}

TEST_CASE("a smaller synthetic split is a prefix of a larger one", "[dataset]") {
  DatasetSpec spec = small_synthetic(9);
  const Splits large = load(spec);
  spec.synthetic_train = 150;
  spec.synthetic_test = 20;
  const Splits small = load(spec);
  CHECK(std::equal(small.train.x.begin(), small.train.x.end(), large.train.x.begin()));
  CHECK(std::equal(small.train.y.begin(), small.train.y.end(), large.train.y.begin()));
  CHECK(std::equal(small.test.y.begin(), small.test.y.end(), large.test.y.begin()));
}

TEST_CASE("synthetic classes are balanced with default parameters", "[dataset]") {
  const DatasetSpec spec;  // D = 784, K = 10, 10000 train, 2000 test
  const Splits splits = load(spec);
  REQUIRE(splits.train.d == 784);
  REQUIRE(splits.train.k == 10);
  for (const Dataset* split : {&splits.train, &splits.test}) {
    std::vector<int64_t> counts(static_cast<size_t>(split->k), 0);
    for (int32_t y : split->y) ++counts[static_cast<size_t>(y)];
    for (size_t c = 0; c < counts.size(); ++c) {
      INFO("class " << c << " has " << counts[c] << " of " << split->n << " samples");
      CHECK(counts[c] >= split->n * 3 / 100);
    }
  }
}

TEST_CASE("shape_of says a dataset's sizes without loading it", "[dataset]") {
  const Splits splits = load(DatasetSpec{});
  const DatasetShape shape = shape_of("synthetic");
  CHECK(shape.input == splits.train.d);
  CHECK(shape.classes == splits.train.k);
  CHECK(shape.train == splits.train.n);
  CHECK(shape.test == splits.test.n);
  CHECK_THROWS_AS(shape_of("cifar"), DataError);
}

TEST_CASE("synthetic data works for other D and K and rejects impossible ones", "[dataset]") {
  DatasetSpec spec = small_synthetic(1);
  spec.synthetic_d = 12;
  spec.synthetic_k = 3;
  const Splits splits = load(spec);
  CHECK(splits.train.x.size() == 400u * 12u);
  std::set<int32_t> classes(splits.train.y.begin(), splits.train.y.end());
  CHECK(classes == std::set<int32_t>{0, 1, 2});

  spec.synthetic_d = 3;  // nothing left after the K reserved label inputs
  CHECK_THAT(data_error_message([&] { load(spec); }), Contains("must exceed K"));
  spec.synthetic_d = 10;
  spec.synthetic_k = 1;
  CHECK_THAT(data_error_message([&] { load(spec); }), Contains("at least 2"));
}

TEST_CASE("validation is carved from the end of train and survives limit_train", "[dataset]") {
  const Splits full = load(small_synthetic(4));

  DatasetSpec spec = small_synthetic(4);
  spec.validation = 100;
  const Splits carved = load(spec);
  CHECK(carved.train.n == 300);
  CHECK(carved.validation.n == 100);
  CHECK(carved.train.x.size() == 300u * 64u);
  CHECK(carved.validation.y.size() == 100u);
  CHECK(carved.validation.d == 64);
  CHECK(carved.validation.k == 5);
  CHECK(std::equal(carved.validation.x.begin(), carved.validation.x.end(),
                   full.train.x.begin() + 300 * 64));
  CHECK(std::equal(carved.validation.y.begin(), carved.validation.y.end(), full.train.y.begin() + 300));
  CHECK(std::equal(carved.train.y.begin(), carved.train.y.end(), full.train.y.begin()));
  CHECK(carved.test.n == 100);

  spec.limit_train = 50;
  spec.limit_test = 30;
  const Splits limited = load(spec);
  CHECK(limited.train.n == 50);
  CHECK(limited.train.x.size() == 50u * 64u);
  CHECK(limited.test.n == 30);
  CHECK(limited.validation.y == carved.validation.y);
  CHECK(std::equal(limited.train.y.begin(), limited.train.y.end(), full.train.y.begin()));

  spec.limit_train = 100000;  // more than there is: keep everything
  CHECK(load(spec).train.n == 300);

  spec.validation = 400;
  CHECK_THAT(data_error_message([&] { load(spec); }), Contains("nothing to train on"));
}

TEST_CASE("limited synthetic loads make only the rows they keep, bit for bit the whole split's", "[dataset]") {
  // load() skips the rows a limit or the validation carve-out drops by drawing only their random
  // numbers; every kept row must still be the whole split's row, or the skipping lost its place.
  const Splits full = load(small_synthetic(7));
  auto rows_equal = [](const Dataset& part, const Dataset& whole, int64_t first) {
    return std::equal(part.x.begin(), part.x.end(), whole.x.begin() + first * whole.d) &&
           std::equal(part.y.begin(), part.y.end(), whole.y.begin() + first);
  };
  for (const int64_t validation : {0, 1, 37}) {
    for (const int64_t limit_train : {0, 1, 10, 362, 363, 1000}) {
      DatasetSpec spec = small_synthetic(7);
      spec.validation = validation;
      spec.limit_train = limit_train;
      spec.limit_test = limit_train;
      const Splits part = load(spec);
      INFO("validation " << validation << ", limit_train and limit_test " << limit_train);
      const int64_t kept = 400 - validation;
      CHECK(part.train.n == (limit_train > 0 ? std::min(limit_train, kept) : kept));
      CHECK(part.train.x.size() == static_cast<size_t>(part.train.n * 64));
      CHECK(rows_equal(part.train, full.train, 0));
      CHECK(part.validation.n == validation);
      CHECK(rows_equal(part.validation, full.train, kept));
      CHECK(part.test.n == (limit_train > 0 ? std::min<int64_t>(limit_train, 100) : 100));
      CHECK(rows_equal(part.test, full.test, 0));
    }
  }
  // Standardized, the whole train split sets the shift and the scale, limit or not.
  DatasetSpec standardized = small_synthetic(7);
  standardized.standardize = true;
  const Splits whole = load(standardized);
  standardized.limit_train = 20;
  const Splits limited = load(standardized);
  CHECK(limited.train.mean == whole.train.mean);
  CHECK(limited.train.stdev == whole.train.stdev);
  CHECK(rows_equal(limited.train, whole.train, 0));
}

TEST_CASE("no validation split unless asked", "[dataset]") {
  const Splits splits = load(small_synthetic(2));
  CHECK(splits.validation.n == 0);
  CHECK(splits.validation.x.empty());
  CHECK(splits.train.n == 400);
}

TEST_CASE("unknown dataset names list the known ones", "[dataset]") {
  DatasetSpec spec;
  spec.name = "cifar";
  const std::string message = data_error_message([&] { load(spec); });
  CHECK_THAT(message, Contains("cifar"));
  CHECK_THAT(message, Contains("mnist"));
  CHECK_THAT(message, Contains("fashion"));
  CHECK_THAT(message, Contains("synthetic"));
  CHECK_FALSE(is_available("cifar"));
  CHECK(is_available("synthetic"));
}

TEST_CASE("data_dir follows FFBENCH_DATA, then XDG_CACHE_HOME, then HOME", "[dataset]") {
  ScopedEnv home("HOME", std::string("/home/someone"));
  {
    ScopedEnv data("FFBENCH_DATA", std::string("/data/ffb"));
    ScopedEnv xdg("XDG_CACHE_HOME", std::string("/xdg"));
    CHECK(data_dir() == "/data/ffb");
  }
  {
    ScopedEnv data("FFBENCH_DATA", std::nullopt);
    ScopedEnv xdg("XDG_CACHE_HOME", std::string("/xdg"));
    CHECK(data_dir() == "/xdg/ffbench");
  }
  {
    ScopedEnv data("FFBENCH_DATA", std::nullopt);
    ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
    CHECK(data_dir() == "/home/someone/.cache/ffbench");
  }
}

TEST_CASE("image datasets missing from disk point at the fetch script", "[dataset]") {
  const fs::path empty_dir =
      fs::temp_directory_path() / ("ffb_test_dataset_" + std::to_string(::getpid()));
  fs::create_directories(empty_dir);
  {
    ScopedEnv data("FFBENCH_DATA", empty_dir.string());
    for (const std::string name : {"mnist", "fashion"}) {
      CHECK_FALSE(is_available(name));
      DatasetSpec spec;
      spec.name = name;
      const std::string message = data_error_message([&] { load(spec); });
      CHECK_THAT(message, Contains("scripts/fetch_data.sh"));
      CHECK_THAT(message, Contains(empty_dir.string()));
    }
  }
  fs::remove_all(empty_dir);
}

TEST_CASE("Batcher order is reproducible per seed and epoch", "[dataset]") {
  const Dataset dataset = indexed_dataset(50, 3);
  Batcher batcher(dataset, 10, 77);
  Batcher twin(dataset, 10, 77);
  Batcher other_seed(dataset, 10, 78);

  const auto epoch0 = epoch_order(batcher, dataset, 10, 0);
  const auto epoch1 = epoch_order(batcher, dataset, 10, 1);
  CHECK(epoch0.size() == 50);
  CHECK(epoch0 == epoch_order(twin, dataset, 10, 0));
  CHECK(epoch1 == epoch_order(twin, dataset, 10, 1));
  CHECK(epoch0 != epoch1);
  CHECK(epoch0 != epoch_order(other_seed, dataset, 10, 0));
  // An epoch's order does not depend on the epochs run before it.
  CHECK(epoch_order(batcher, dataset, 10, 0) == epoch0);

  std::vector<int32_t> identity(50);
  for (int32_t i = 0; i < 50; ++i) identity[static_cast<size_t>(i)] = i;
  CHECK(epoch0 != identity);
  Batcher in_order(dataset, 10, 77, /*shuffle=*/false);
  CHECK(epoch_order(in_order, dataset, 10, 3) == identity);
}

TEST_CASE("Batcher visits every sample exactly once per epoch", "[dataset]") {
  const Dataset dataset = indexed_dataset(23, 2);
  SECTION("drop_last = false keeps the partial batch") {
    Batcher batcher(dataset, 5, 1, true, /*drop_last=*/false);
    CHECK(batcher.batches_per_epoch() == 5);
    for (int64_t epoch = 0; epoch < 3; ++epoch) {
      auto order = epoch_order(batcher, dataset, 5, epoch);
      std::sort(order.begin(), order.end());
      std::vector<int32_t> expected(23);
      for (int32_t i = 0; i < 23; ++i) expected[static_cast<size_t>(i)] = i;
      CHECK(order == expected);
    }
  }
  SECTION("drop_last = true yields only full batches of distinct samples") {
    Batcher batcher(dataset, 5, 1);
    CHECK(batcher.batches_per_epoch() == 4);
    const auto order = epoch_order(batcher, dataset, 5, 0);
    CHECK(order.size() == 20);
    CHECK(std::set<int32_t>(order.begin(), order.end()).size() == 20);
  }
  SECTION("next returns 0 at the end of an epoch until the next one starts") {
    Batcher batcher(dataset, 23, 1);
    std::vector<float> x(23 * 2);
    std::vector<int32_t> y(23);
    CHECK(batcher.next(x.data(), y.data()) == 23);  // the constructor starts epoch 0
    CHECK(batcher.next(x.data(), y.data()) == 0);
    CHECK(batcher.next(x.data(), y.data()) == 0);
    batcher.start_epoch(1);
    CHECK(batcher.next(x.data(), y.data()) == 23);
  }
}

TEST_CASE("Batcher rejects batch sizes that cannot work", "[dataset]") {
  const Dataset dataset = indexed_dataset(8, 1);
  CHECK_THAT(data_error_message([&] { Batcher(dataset, 0, 1); }), Contains("at least 1"));
  CHECK_THAT(data_error_message([&] { Batcher(dataset, 9, 1); }), Contains("drop_last"));
  Batcher partial(dataset, 9, 1, true, /*drop_last=*/false);
  CHECK(partial.batches_per_epoch() == 1);
  const Dataset empty = indexed_dataset(0, 4);
  Batcher nothing(empty, 4, 1);
  CHECK(nothing.batches_per_epoch() == 0);
}

TEST_CASE("MNIST, when fetched, has its published shape", "[dataset]") {
  if (!is_available("mnist")) {
    ffb::testing::skip_test("MNIST not found under " + data_dir() + "; run scripts/fetch_data.sh to test it");
  }
  DatasetSpec spec;
  spec.name = "mnist";
  check_image_splits(load(spec), "mnist");
}

TEST_CASE("Fashion-MNIST, when fetched, has its published shape", "[dataset]") {
  if (!is_available("fashion")) {
    ffb::testing::skip_test("Fashion-MNIST not found under " + data_dir() + "; run scripts/fetch_data.sh to test it");
  }
  DatasetSpec spec;
  spec.name = "fashion";
  check_image_splits(load(spec), "fashion");
}
