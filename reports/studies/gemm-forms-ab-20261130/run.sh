#!/usr/bin/env bash
# Re-runs this A/B (from the project root, a release build): bp's backward products in the step's
# form and in the alternatives, 1 and 2 threads, every variant interleaved at random, 7 repetitions.
# Writes threads1.json and threads2.json beside this script; summarize.py prints the tables.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for t in 1 2; do
  OMP_NUM_THREADS=$t build/release/bench/bench_micro \
    --benchmark_filter='BM_backward_forms|BM_backward_pair|BM_split_product' \
    --benchmark_enable_random_interleaving=true --benchmark_repetitions=7 --benchmark_min_time=0.3 \
    --benchmark_out="$here/threads$t.json" --benchmark_out_format=json >/dev/null
done
/usr/bin/python3 "$here/summarize.py"
