#!/usr/bin/env bash
# The weight-gradient product and Adam's update, whole against fused by row blocks (bench/micro/bench_fused_update.cpp),
# interleaved at random, 7 repetitions, medians; at 2 threads, then 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
for t in 2 1; do
  OMP_NUM_THREADS=$t build/release/bench/bench_micro --benchmark_filter=BM_weight_grad_update --benchmark_repetitions=7 \
    --benchmark_enable_random_interleaving=true --benchmark_min_time=0.3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$(dirname "${BASH_SOURCE[0]}")/threads$t.json" --benchmark_out_format=json
done
