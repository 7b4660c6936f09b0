// Catch2 entry point; also pins the thread count so results are reproducible run to run.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "algorithms/backend/engine.hpp"

int main(int argc, char** argv) {
  ffb::set_threads(2);
  return Catch::Session().run(argc, argv);
}
