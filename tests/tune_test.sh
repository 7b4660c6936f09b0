#!/usr/bin/env bash
# A tiny equal-budget search (measure "tune", successive halving) end to end: asked for rung 1 alone,
# ffbench runs nothing and says it waits for rung 0; the resume runs rung 0, then rung 1 on the best
# trials of rung 0 by validation accuracy; the report shows the tuning section and its plot.
# Usage: tests/tune_test.sh PATH_TO_FFBENCH
set -euo pipefail
ffbench=${1:?usage: tune_test.sh PATH_TO_FFBENCH}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "tune_test: FAIL: $*" >&2; exit 1; }

"$ffbench" run "$here/fixtures/tune_suite.json" --out-dir "$work" --only r1- >"$work/first.log" 2>&1 || fail "first run: $(tail -5 "$work/first.log")"
run_dir=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[[ -n $run_dir ]] || fail "no run folder"
(( $(grep -c "not run yet: rung 1 needs every trial of rung 0 finished first" "$work/first.log") == 4 )) \
  || fail "rung 1 did not wait for rung 0: $(cat "$work/first.log")"
"$ffbench" run --resume "$run_dir" >"$work/second.log" 2>&1 || fail "resume: $(tail -5 "$work/second.log")"
/usr/bin/python3 - "$run_dir" <<'PY' || fail "result check failed"
import json, os, sys
run = sys.argv[1]
points = {}
for name in os.listdir(os.path.join(run, "points")):
    if name.endswith(".json") and not name.endswith(".point.json"):
        with open(os.path.join(run, "points", name)) as f:
            points[name[:-5]] = json.load(f)
assert len(points) == 2 * (3 + 2), sorted(points)
def score(p):
    return max(p["epochs"][-1]["validation_accuracy"].values()) if p["status"] in ("ok", "collapsed") else -1.0
for label in ("bp", "ff"):
    rung0 = [p for p in points.values() if p["point"]["label"] == label and p["point"]["tune"]["rung"] == 0]
    rung1 = [p for p in points.values() if p["point"]["label"] == label and p["point"]["tune"]["rung"] == 1]
    assert len(rung0) == 3 and len(rung1) == 2
    ranked = sorted(rung0, key=lambda p: (-score(p), p["point"]["tune"]["trial"]))
    for p in rung1:
        t = p["point"]["tune"]
        expected = ranked[t["rank"]]["point"]["tune"]
        assert t["trial"] == expected["trial"], (label, t, expected)
        assert p["point"]["options"]["lr"] == expected["config"]["lr"]
        assert p["point"]["epochs"] == 2 and ranked[0]["point"]["epochs"] == 1
    for p in rung0 + rung1:
        assert p["selection"] == "validation" and p["validation_samples"] == 500, p["id"]
        assert all("test_accuracy" not in e for e in p["epochs"][:-1]) and "test_accuracy" in p["epochs"][-1]
        assert p["time_to_target_split"] == "validation"
print("tune_test: rung 1 took the best trials of rung 0 for both algorithms")
PY
/usr/bin/python3 "$here/../scripts/report.py" "$run_dir" >"$work/report.log" 2>&1 || fail "report.py failed: $(tail -5 "$work/report.log")"
grep -q "^## Tuning: \`tune\`" "$run_dir/REPORT.md" || fail "REPORT.md lacks the tuning section"
grep -q "validation split" "$run_dir/REPORT.md" || fail "REPORT.md does not say which split the choices use"
[[ -s $run_dir/plots/tune_tune.png ]] || fail "missing plot tune_tune.png"
echo "tune_test: 1 passed, 0 failed"
