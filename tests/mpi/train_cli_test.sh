#!/usr/bin/env bash
# ffbench train --distributed end to end under mpirun with 2 ranks: each mode trains, prints the
# per-rank table, writes its JSON; wrong uses get errors that say what to do.
set -euo pipefail
mpirun=$1 ffbench=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

common=(-d synthetic -l 64,48,32 -b 32 -e 2 --limit-train 1024 --limit-test 256 -t 1)
"$mpirun" -np 2 "$ffbench" train -a bp --distributed data "${common[@]}" --json "$tmp/bp.json" >"$tmp/bp.txt" 2>&1 ||
  { cat "$tmp/bp.txt"; fail "bp --distributed data"; }
grep -q "distributed data over 2 ranks" "$tmp/bp.txt" || { cat "$tmp/bp.txt"; fail "no distributed header"; }
# The same run in one process: data parallelism trains the same model (float tolerance).
"$ffbench" train -a bp "${common[@]}" --json "$tmp/bp1.json" >"$tmp/bp1.txt" 2>&1 || { cat "$tmp/bp1.txt"; fail "bp one process"; }
/usr/bin/python3 - "$tmp/bp.json" "$tmp/bp1.json" <<'PY' || fail "bp JSON"
import json, sys
r, one = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
d = r["distributed"]
assert d["mode"] == "data" and d["ranks"] == 2 and len(d["per_rank"]) == 2, d
assert all(p["bytes_sent"] > 0 and p["reduce_seconds"] > 0 for p in d["per_rank"]), d
assert len(r["epochs"]) == 2, r["epochs"]
for a, b in zip(r["epochs"], one["epochs"]):
    assert abs(a["train_loss"] - b["train_loss"]) <= 1e-4 * abs(b["train_loss"]), (a["train_loss"], b["train_loss"])
    assert abs(a["test_accuracy"][0] - b["test_accuracy"][0]) <= 1 / 256 + 1e-9, (a["test_accuracy"], b["test_accuracy"])
PY
"$mpirun" -np 2 "$ffbench" train -a ff --distributed pipeline -o schedule=pipelined -o classifier=false "${common[@]}" \
  --json "$tmp/ff.json" >"$tmp/ff.txt" 2>&1 || { cat "$tmp/ff.txt"; fail "ff --distributed pipeline"; }
/usr/bin/python3 - "$tmp/ff.json" <<'PY' || fail "ff JSON"
import json, sys
r = json.load(open(sys.argv[1]))
d = r["distributed"]
assert d["mode"] == "pipeline" and [p["layers"] for p in d["per_rank"]] == [[0, 1], [1, 2]], d
assert d["per_rank"][0]["bytes_sent"] > 0 and d["per_rank"][1]["bytes_received"] > 0, d
PY
# Wrong uses: each error names the fix.
if "$mpirun" -np 2 "$ffbench" train -a ff --distributed pipeline "${common[@]}" >"$tmp/err.txt" 2>&1; then
  fail "ff pipeline without schedule=pipelined was accepted"
fi
grep -q "schedule=pipelined" "$tmp/err.txt" || { cat "$tmp/err.txt"; fail "the error does not name schedule=pipelined"; }
if "$mpirun" -np 2 "$ffbench" train -a bp --distributed pipeline "${common[@]}" >"$tmp/err.txt" 2>&1; then
  fail "bp pipeline was accepted"
fi
grep -q "use --distributed data" "$tmp/err.txt" || { cat "$tmp/err.txt"; fail "the bp error does not say what to use"; }
if "$ffbench" train -a bp --distributed data "${common[@]}" >"$tmp/err.txt" 2>&1; then fail "--distributed without mpirun ran"; fi
grep -q "mpirun -np N" "$tmp/err.txt" || { cat "$tmp/err.txt"; fail "the error does not say to use mpirun"; }
"$mpirun" -np 2 "$ffbench" pingpong --max-bytes 1048576 --repeats 5 --json "$tmp/pp.json" >"$tmp/pp.txt" 2>&1 ||
  { cat "$tmp/pp.txt"; fail "pingpong"; }
/usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['alpha_us'] > 0 and r['beta_gbytes_per_s'] > 0, r" \
  "$tmp/pp.json" || fail "pingpong JSON"
echo "PASS: ffbench train --distributed data and pipeline, the errors, pingpong"
