// Parallel loops that enter an OpenMP region only where the region would run on more than one thread.
//
// libgomp allocates a team for every parallel region that runs on one thread (it keeps only teams of
// two threads or more for reuse): with one thread in all, under an `if` clause that is false, and in
// a region inside another (the pipelined schedule runs each layer, kernels and all, on one thread of
// an outer region). Every kernel call of a training step would then allocate (the contract test
// counts allocations at the C allocator and saw 24-57 per three steps at one thread). These helpers
// run the loop on the calling thread instead, in the order a one-thread team runs it, so the results
// are the same bits.
//
// A body must not call OpenMP's thread queries or work-sharing constructs itself: run alone inside an
// enclosing region they would bind to that region's team. It takes its thread and team as arguments
// and splits its work with static_share.
#pragma once

#include <algorithm>
#include <cstdint>

#include <omp.h>

namespace ffb {

// Whether a parallel region entered here, asking for `requested` threads (0: the default team),
// would run on one thread.
inline bool region_runs_alone(int requested = 0) {
  const int team = requested > 0 ? requested : omp_get_max_threads();
  return team <= 1 || omp_get_active_level() >= omp_get_max_active_levels();
}

// The part of [0, n) that schedule(static) without a chunk size gives `thread` of `team`:
// contiguous, the first n % team threads one item more.
struct Share {
  int64_t begin, end;
};
inline Share static_share(int64_t n, int thread, int team) {
  const int64_t base = n / team, extra = n % team;
  const int64_t begin = thread * base + std::min<int64_t>(thread, extra);
  return {begin, begin + base + (thread < extra ? 1 : 0)};
}

// body(i) for every i in [0, n), schedule(static) over the team; split false (a loop too small to be
// worth a team) or a region that would run alone: in order on the calling thread.
template <class Body>
void parallel_for(int64_t n, Body&& body, bool split = true) {
  if (!split || region_runs_alone()) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) body(i);
}

// body(thread, team) once on every thread of a team of `requested` threads (0: the default team);
// where the region would run alone, body(0, 1) on the calling thread.
template <class Body>
void parallel_team(Body&& body, int requested = 0) {
  if (region_runs_alone(requested)) {
    body(0, 1);
    return;
  }
  if (requested > 0) {
#pragma omp parallel num_threads(requested)
    body(omp_get_thread_num(), omp_get_num_threads());
  } else {
#pragma omp parallel
    body(omp_get_thread_num(), omp_get_num_threads());
  }
}

// body(begin, end) on each thread's static share of [0, n) (a vectorisable inner loop over a range).
template <class Body>
void parallel_ranges(int64_t n, Body&& body) {
  parallel_team([&](int thread, int team) {
    const Share share = static_share(n, thread, team);
    body(share.begin, share.end);
  });
}

// The sum of term(i) over [0, n) in double: each thread adds its static share in order from zero,
// then the shares are added in thread order (the same bits at every run of a given team size).
template <class Term>
double parallel_sum(int64_t n, Term&& term) {
  constexpr int kMaxTeam = 256;
  double partial[kMaxTeam];
  int used = 1;
  parallel_team([&](int thread, int team) {
    const int teams = std::min(team, kMaxTeam);
    if (thread == 0) used = teams;
    if (thread >= teams) return;
    const Share share = static_share(n, thread, teams);
    double sum = 0.0;
    for (int64_t i = share.begin; i < share.end; ++i) sum += term(i);
    partial[thread] = sum;
  });
  double total = 0.0;
  for (int t = 0; t < used; ++t) total += partial[t];
  return total;
}

}  // namespace ffb
