#!/bin/bash
# Interleaved A/B of single throughput points: binary A (d4af29f) vs B (42b92cc: fused goodness prediction), R rounds.
A=/work/bin/ffbench-d4af29f; B=/work/bin/ffbench-42b92cc; R=${1:-4}
src=/work/main/reports/published/packed-weights-ab-20261129/auto-1/points
out=/work/runs/fuse2/out; mkdir -p $out
for r in $(seq 1 $R); do
  for p in width.ff.d2-w500-b256-t2-s1 width-1thread.ff.d2-w500-b256-t1-s1 width.ff.d2-w1000-b256-t2-s1; do
    if (( r % 2 )); then order="A B"; else order="B A"; fi
    for arm in $order; do
      bin=$A; [ $arm = B ] && bin=$B
      $bin point --point-file $src/$p.point.json --out $out/$p.$arm.$r.json --index 1 --total 1 > /dev/null 2>&1
    done
  done
  echo "round $r $(date +%T)"
done
