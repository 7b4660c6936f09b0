#!/usr/bin/env bash
# Two ranks in two network namespaces joined by a 1 Gbit/s shaped veth pair (scripts/cluster/
# emulated_link.sh): data parallelism (bp) and FF's pipeline train the same weights, byte for byte, as
# over shared memory; the distributed modes still equal one process there; a point of `ffbench run`
# over a link whose training is killed is recorded as failed and leaves no namespace behind.
# Exits 77 (ctest's skip) with the reason where namespaces cannot be made (no root or CAP_NET_ADMIN).
set -euo pipefail
mpirun=$1 ffbench=$2 test_distributed=$3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
link="$here/../../scripts/cluster/emulated_link.sh"
export FFBENCH_CLUSTER_STATE=$(mktemp -d)/cluster
tmp=$(mktemp -d)
trap '"$link" down; rm -rf "$tmp" "$(dirname "$FFBENCH_CLUSTER_STATE")"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
left() { ip netns list 2>/dev/null | grep -c '^ffb-n' || true; }

if ! why=$("$link" check 2>&1); then echo "SKIP: $why"; exit 77; fi
common=(-d synthetic -l 64,48,32 -b 32 -e 2 --limit-train 1024 --limit-test 256 -t 1)
train() {  # train NAME LAUNCHER... -- ARGS: weights in $tmp/NAME.bin
  local name=$1; shift
  local launcher=()
  while [[ $1 != -- ]]; do launcher+=("$1"); shift; done
  shift
  "${launcher[@]}" "$ffbench" train "${common[@]}" "$@" --save "$tmp/$name.bin" >"$tmp/$name.txt" 2>&1 ||
    { cat "$tmp/$name.txt"; fail "$name"; }
}
train bp-shm "$mpirun" -np 2 -- -a bp --distributed data
train ff-shm "$mpirun" -np 2 -- -a ff --distributed pipeline -o schedule=pipelined -o classifier=false
"$link" up 1gbit >/dev/null
[[ $(left) == 2 ]] || fail "up made $(left) namespaces, not 2"
train bp-link "$link" mpirun -np 2 -- -a bp --distributed data
train ff-link "$link" mpirun -np 2 -- -a ff --distributed pipeline -o schedule=pipelined -o classifier=false
cmp "$tmp/bp-shm.bin" "$tmp/bp-link.bin" || fail "bp data-parallel weights differ between shared memory and the link"
cmp "$tmp/ff-shm.bin" "$tmp/ff-link.bin" || fail "ff pipeline weights differ between shared memory and the link"
grep -q "ffb-n" <(ip netns list) || fail "namespaces vanished during the runs"
for mode in pipeline data; do
  "$link" mpirun -np 2 "$test_distributed" "$mode" >"$tmp/$mode.txt" 2>&1 || { cat "$tmp/$mode.txt"; fail "test_distributed $mode over the link"; }
done
"$link" down
[[ $(left) == 0 ]] || fail "down left $(left) namespaces"

# ffbench run: a point over a link, its training killed midway: failed, the sweep ends, nothing left.
cat >"$tmp/suite.json" <<'JSON'
{"schema": 1, "name": "network-kill", "dataset": "synthetic",
 "experiments": [{"name": "net", "measure": "convergence", "threads": 1, "epochs": 400, "batch": 32,
   "hidden": [64, 64], "limit_train": 2048, "limit_test": 256, "ranks": 2, "links": ["1gbit"],
   "algorithms": [{"algorithm": "bp", "distributed": "data"}]}]}
JSON
"$ffbench" run "$tmp/suite.json" --out-dir "$tmp/runs" >"$tmp/run.txt" 2>&1 &
runner=$!
for _ in $(seq 1 300); do
  pgrep -f "ffbench point --point-file $tmp" >/dev/null && [[ $(left) == 2 ]] && break
  sleep 0.1
done
sleep 1
pkill -9 -f "ffbench point --point-file $tmp" || fail "the point never started: $(cat "$tmp/run.txt")"
wait "$runner" || true
grep -q "FAILED" "$tmp/run.txt" || { cat "$tmp/run.txt"; fail "the killed point was not recorded as failed"; }
[[ $(left) == 0 ]] || fail "a killed point left $(left) namespaces behind"
grep -q '"status": "failed"' "$tmp"/runs/*/points/net.bp.*.json || fail "no failed result written"
echo "network_test: weights equal over a 1gbit link and shared memory; teardown after a killed point: ok"
