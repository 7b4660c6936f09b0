#!/usr/bin/env bash
# Why FF's elementwise work does not speed up with a second thread, and a schedule tried against it.
#   1. BM_shared_write at 1 and 2 threads (5 repetitions, medians): a write pass over 2.6 MB that
#      every thread has just read, against the same pass after each thread read its own half.
#   2. (with PATCHED, a build of this folder's unit-split-experiment.diff) the FF training step
#      [784,500,500] and [784,1000,1000], B 256, on 2 threads, with the unit split (each thread owns a
#      block of every layer's units) and without it (FFB_NOSPLIT=1), interleaved, ROUNDS rounds; and
#      the step's phases (FFB_PHASES=1: microseconds per step on the main thread, summed over layers);
#      and without it on 1 thread (products-1t).
# Usage: run.sh OUT [PATCHED_BUILD_DIR] [ROUNDS]    (run from the repository root, nothing else running)
set -euo pipefail
out="${1:?usage: run.sh OUT [PATCHED_BUILD_DIR] [ROUNDS]}"
patched="${2:-}"
rounds="${3:-3}"
mkdir -p "$out"
micro=build/release/bench/bench_micro
[[ -x "$micro" ]] || { echo "run.sh: $micro is missing: build the release preset first" >&2; exit 1; }
for t in 1 2; do
  OMP_NUM_THREADS=$t "$micro" --benchmark_filter='BM_shared_write' --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true 2>&1 | grep -E 'median' | sed "s/^/threads=$t /" | tee -a "$out/shared_write.txt"
done
[[ -n "$patched" ]] || exit 0
for r in $(seq "$rounds"); do
  for width in 500 1000; do
    for variant in split products products-1t; do
      if [[ $variant == products* ]]; then export FFB_NOSPLIT=1; else unset FFB_NOSPLIT; fi
      threads=2; [[ $variant == *-1t ]] && threads=1
      line=$(FFB_PHASES=1 OMP_NUM_THREADS=$threads "$patched/bench/bench_micro" \
        --benchmark_filter="train_step/ff/batch:256/depth:2/width:$width/" --benchmark_min_time=2 2>&1 |
        grep -E 'phases|real_time' | tail -2 | tr '\n' ' ')
      echo "round=$r width=$width variant=$variant $line" | tee -a "$out/split_ab.txt"
    done
  done
done
unset FFB_NOSPLIT
