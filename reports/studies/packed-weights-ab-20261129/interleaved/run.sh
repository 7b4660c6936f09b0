#!/bin/bash
# Interleaved A/B of single throughput points: FFB_PACKED_WEIGHTS off vs auto, same binary, R rounds.
B=/work/bin/ffbench-8a5cc73; R=${1:-5}
src=$(ls -d /work/runs/ab/auto-1/*/)/points
out=/work/runs/ab2; mkdir -p $out
for r in $(seq 1 $R); do
  for p in width.ff.d2-w500-b256-t2-s1 width.ff.d2-w1000-b256-t2-s1 width.bp.d2-w500-b256-t2-s1 width.bp.d2-w1000-b256-t2-s1; do
    if (( r % 2 )); then order="off auto"; else order="auto off"; fi
    for arm in $order; do
      if [ $arm = off ]; then env FFB_PACKED_WEIGHTS=off $B point --point-file $src/$p.point.json --out $out/$p.$arm.$r.json --index 1 --total 1 > /dev/null 2>&1
      else $B point --point-file $src/$p.point.json --out $out/$p.$arm.$r.json --index 1 --total 1 > /dev/null 2>&1; fi
    done
  done
  echo "round $r $(date +%T)"
done
