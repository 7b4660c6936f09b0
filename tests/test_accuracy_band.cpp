// The accuracy band in CI: a short, deterministic FF run on a fixed MNIST subset (1 thread, seed 1,
// the first 5,000 training images, the last 2,000 of the training split as validation, 5 epochs at
// [784,200,200] with the matlab code's options) must land inside a band measured from 10 seeds. A
// change that quietly breaks learning (a wrong gradient sign, an option that stops reaching the
// kernels, a broken label embedding) moves it out; the finite-difference tests cannot see such
// changes when each piece stays self-consistent. Without MNIST the test exits with ctest's skip code.
//
// The band, measured with the release build (bench/ffbench; the same run as this test):
//   for s in $(seq 1 10); do build/release/bench/ffbench train -a ff -d mnist --limit-train 5000
//     --limit-test 500 --validation 2000 -e 5 -b 100 -l 784,200,200 -t 1 -s $s --options
//     '{"lr":0.001,"weight_decay":0.0003,"lr_decay_start":3,"peer_normalization":0.03,"negatives":"hard"}'; done
//   (one line)
// gave validation accuracies (softmax / goodness) of
//   seed     1      2      3      4      5      6      7      8      9      10
//   softmax  92.30  93.20  92.25  93.00  92.50  92.45  92.70  92.10  92.80  92.30 %  (92.10 .. 93.20)
//   goodness 53.80  50.05  48.30  35.10  45.40  36.05  40.80  34.40  53.35  37.55 %  (34.40 .. 53.80)
// and the debug (ASan) build, whose rounding differs (no FMA contraction), gave for the same seeds
//   softmax  92.05  92.80  92.50  92.85  93.00  92.70  92.90  92.30  92.50  93.00 %  (92.05 .. 93.00)
//   goodness 37.50  55.90  45.20  37.20  44.75  36.30  51.85  38.25  50.85  39.35 %  (36.30 .. 55.90)
// so one seed differs between builds about as much as seeds differ. Goodness prediction is still
// rising fast at epoch 5, so its band is wide; it still fails a run at chance (10 %) or below it.
// The bands hold all 20 runs with a margin of about half their range on each side: softmax
// 91.5 .. 94.0 %, goodness 25 .. 65 %.
#include <catch2/catch.hpp>

#include "algorithms/registry.hpp"
#include "algorithms/backend/engine.hpp"
#include "bench/harness/training.hpp"
#include "datasets/dataset.hpp"
#include "tests/skip.hpp"

using namespace ffb;

TEST_CASE("ff on MNIST: a short run with the matlab code's options lands in its accuracy band", "[ff][mnist][band]") {
  if (!data::is_available("mnist")) ffb::testing::skip_test("MNIST is not fetched here: run scripts/fetch_data.sh");
  const int saved_threads = threads();
  set_threads(1);
  TrainConfig config;
  config.dataset.name = "mnist";
  config.dataset.limit_train = 5000;
  config.dataset.limit_test = 500;  // seen once, at the end; the band is on validation
  config.dataset.validation = 2000;
  config.hidden = {200, 200};
  config.batch = 100;
  config.epochs = 5;
  config.seed = 1;
  config.options = {{"lr", 0.001}, {"weight_decay", 0.0003}, {"lr_decay_start", 3}, {"peer_normalization", 0.03},
                    {"negatives", "hard"}};
  const auto data = data::load(config.dataset);
  auto ff = create_algorithm("ff", config.options);
  const auto result = train(*ff, config, data);
  set_threads(saved_threads);
  REQUIRE(result.status == PointStatus::ok);
  REQUIRE(result.selection == "validation");
  REQUIRE(result.epochs.size() == 5);
  const auto& last = result.epochs.back();
  REQUIRE(result.modes == std::vector<std::string>{"goodness", "softmax"});
  const double goodness = last.validation_accuracy[0], softmax = last.validation_accuracy[1];
  INFO("validation accuracy: softmax " << softmax << ", goodness " << goodness);
  CHECK(softmax >= 0.915);
  CHECK(softmax <= 0.940);
  CHECK(goodness >= 0.25);
  CHECK(goodness <= 0.65);
  CHECK(last.test_accuracy.size() == 2);  // the final model was tested once
}
