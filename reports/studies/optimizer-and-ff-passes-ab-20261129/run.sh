#!/bin/bash
# Interleaved A/B of two bench_micro binaries: alternating runs (order swapped each round), each a
# short Google Benchmark run of the matching benchmarks; per benchmark the median over the rounds of
# the A/B time ratio (B's speedup) and its interquartile range. Nothing else may run meanwhile.
# Usage: run.sh A_BINARY B_BINARY FILTER ROUNDS OUT_PREFIX   (threads: bench_micro uses every core)
set -euo pipefail
a="$1"; b="$2"; filter="$3"; rounds="$4"; out="$5"
: > "$out.csv"
for i in $(seq "$rounds"); do
  if (( i % 2 )); then order="A B"; else order="B A"; fi
  for arm in $order; do
    binary=$a; [[ $arm == B ]] && binary=$b
    "$binary" --benchmark_filter="$filter" --benchmark_min_time=0.3 --benchmark_format=csv 2>/dev/null |
      grep -v '^name' | awk -F, -v arm="$arm" -v i="$i" '{print i "," arm "," $1 "," $3}' >> "$out.csv"
  done
done
/usr/bin/python3 - "$out.csv" > "$out.txt" <<'PY'
import collections, statistics, sys
t = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    i, arm, name, value = line.rstrip("\n").split(",", 3)
    t[(name.strip('"'), i)][arm] = float(value)
ratios, times = collections.defaultdict(list), collections.defaultdict(lambda: collections.defaultdict(list))
for (name, _), d in t.items():
    if "A" in d and "B" in d:
        ratios[name].append(d["A"] / d["B"])
        for arm in "AB":
            times[name][arm].append(d[arm])
for name, rs in sorted(ratios.items()):
    rs.sort()
    print(f"{name}: B/A speedup median {statistics.median(rs):.3f} (rounds {len(rs)}, IQR {rs[len(rs) // 4]:.3f}..{rs[3 * len(rs) // 4]:.3f}); "
          f"median time A {statistics.median(times[name]['A']):.4g}, B {statistics.median(times[name]['B']):.4g} (bench_micro's unit)")
PY
cat "$out.txt"
