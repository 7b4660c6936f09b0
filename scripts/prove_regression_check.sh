#!/usr/bin/env bash
# Proves the regression check: 10 runs on unchanged code (no false alarm expected), one with an
# injected 25% slowdown of every training step, one with an injected 10% memory increase (both
# must be caught). Writes each run's table to reports/regression-proof/ and a summary at the end.
# Usage: scripts/prove_regression_check.sh [RUNS] (default 10)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ${1:-} == --help || ${1:-} == -h ]]; then
  echo "scripts/prove_regression_check.sh [RUNS]: RUNS clean checks + 25% slowdown + 10% memory injections"; exit 0
fi
runs=${1:-10}
out=reports/regression-proof
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
check() {  # name, then env assignments
  local name=$1; shift
  env "$@" /usr/bin/python3 scripts/check_regression.py --json "$out/$name.json" >"$out/$name.txt" 2>&1
  local rc=$?
  echo "$name: exit $rc ($(tail -n 1 "$out/$name.txt"))" | tee -a "$summary"
}
for i in $(seq 1 "$runs"); do check "clean-$i"; done
check slowdown-25 FFBENCH_INJECT_SLOWDOWN=0.25
check memory-10 FFBENCH_INJECT_MEMORY=0.10
/usr/bin/python3 - "$out" "$runs" <<'PY' | tee -a "$summary"
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
changes = {}
for i in range(1, runs + 1):
    with open(f"{out}/clean-{i}.json") as f:
        for name, base, value, change, verdict, note in json.load(f)["rows"]:
            if change is not None:
                changes.setdefault(name.split("/")[0], []).append(change)
print("spread of the relative change against the baseline over the clean runs:")
for family, values in sorted(changes.items()):
    print(f"  {family:<9} min {100 * min(values):+.2f}%  max {100 * max(values):+.2f}%  stdev {100 * statistics.pstdev(values):.2f}%  (n={len(values)})")
PY
