#!/bin/bash
# Interleaved A/B of single throughput points: binary A against binary B, R rounds, the order
# alternating by round. Usage: run.sh A_BINARY B_BINARY OUT_DIR ROUNDS POINT...
# round1: run.sh ffbench-d4af29f ffbench-<uncommitted fused tree> round1 4 width.ff.d2-w500-b256-t2-s1 width-1thread.ff.d2-w500-b256-t1-s1
# round2: run.sh ffbench-d4af29f ffbench-42b92cc round2 6 width.ff.d2-w500-b256-t2-s1 width-1thread.ff.d2-w500-b256-t1-s1 width.ff.d2-w1000-b256-t2-s1
A=$1; B=$2; out=$3; R=$4; shift 4
src=$(dirname "$0")/../packed-weights-ab-20261129/auto-1/points  # the quick suite's point files
mkdir -p "$out"
for r in $(seq 1 "$R"); do
  for p in "$@"; do
    if (( r % 2 )); then order="A B"; else order="B A"; fi
    for arm in $order; do
      bin=$A; [ "$arm" = B ] && bin=$B
      "$bin" point --point-file "$src/$p.point.json" --out "$out/$p.$arm.$r.json" --index 1 --total 1 > /dev/null 2>&1
    done
  done
  echo "round $r $(date +%T)"
done
