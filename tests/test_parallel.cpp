// The parallel helpers (algorithms/backend/parallel.hpp): each thread's share is the one OpenMP's
// static schedule gives it, and where a region would run on one thread the helpers run the work
// on the calling thread, all of it, in order.
#include <catch2/catch.hpp>

#include <omp.h>

#include <vector>

#include "algorithms/backend/parallel.hpp"

using ffb::parallel_for;
using ffb::parallel_sum;
using ffb::parallel_team;
using ffb::static_share;

TEST_CASE("static_share is schedule(static)'s split", "[parallel]") {
  for (const int team : {1, 2, 3, 4, 7}) {
    for (const int64_t n : {0, 1, 2, 5, 17, 1000, 1001}) {
      INFO("team " << team << ", n " << n);
      std::vector<int> owner(static_cast<size_t>(n), -1);
      int given = 0;
#pragma omp parallel num_threads(team)
      {
#pragma omp single
        given = omp_get_num_threads();
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; ++i) owner[static_cast<size_t>(i)] = omp_get_thread_num();
      }
      std::vector<int> shared(static_cast<size_t>(n), -1);
      int64_t covered = 0;
      for (int t = 0; t < given; ++t) {
        const auto share = static_share(n, t, given);
        CHECK(share.begin == covered);  // contiguous, in thread order
        for (int64_t i = share.begin; i < share.end; ++i) shared[static_cast<size_t>(i)] = t;
        covered = share.end;
      }
      CHECK(covered == n);
      CHECK(shared == owner);
    }
  }
}

TEST_CASE("the helpers cover every item once, and run alone inside a region", "[parallel]") {
  const int64_t n = 1000;
  std::vector<int> hits(static_cast<size_t>(n), 0);
  parallel_for(n, [&](int64_t i) { ++hits[static_cast<size_t>(i)]; });
  CHECK(std::vector<int>(static_cast<size_t>(n), 1) == hits);
  parallel_for(n, [&](int64_t i) { ++hits[static_cast<size_t>(i)]; }, false);
  CHECK(std::vector<int>(static_cast<size_t>(n), 2) == hits);

  // Inside an active region (nesting off, the default) a region would run alone: every thread of the
  // outer team runs the whole loop itself, in order, as thread 0 of 1.
  int outer = 0;
  std::vector<std::vector<int64_t>> order(2);
  std::vector<int> teams(2, -1);
#pragma omp parallel num_threads(2)
  {
    const int t = omp_get_thread_num();
#pragma omp single
    outer = omp_get_num_threads();
    if (t < 2) {
      parallel_for(5, [&](int64_t i) { order[static_cast<size_t>(t)].push_back(i); });
      parallel_team([&](int thread, int team) { teams[static_cast<size_t>(t)] = thread * 100 + team; });
    }
  }
  for (int t = 0; t < outer; ++t) {
    CHECK(order[static_cast<size_t>(t)] == std::vector<int64_t>{0, 1, 2, 3, 4});
    CHECK(teams[static_cast<size_t>(t)] == 1);  // thread 0 of a team of 1
  }
}

TEST_CASE("parallel_sum adds each share in order, then the shares in thread order", "[parallel]") {
  const int64_t n = 777;
  auto term = [](int64_t i) { return 1.0 / static_cast<double>(i + 1); };
  double serial = 0.0;
  for (int64_t i = 0; i < n; ++i) serial += term(i);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  CHECK(parallel_sum(n, term) == serial);  // one thread: the plain loop's bits
  omp_set_num_threads(3);
  int given = 1;
#pragma omp parallel num_threads(3)
#pragma omp single
  given = omp_get_num_threads();
  double expected = 0.0;
  for (int t = 0; t < given; ++t) {
    const auto share = static_share(n, t, given);
    double part = 0.0;
    for (int64_t i = share.begin; i < share.end; ++i) part += term(i);
    expected += part;
  }
  CHECK(parallel_sum(n, term) == expected);
  omp_set_num_threads(saved);
}
