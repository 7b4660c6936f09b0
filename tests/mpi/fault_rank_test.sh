#!/usr/bin/env bash
# Issue 37, a rank lost: rank 1 of `mpirun -np 2 ffbench train --distributed data|pipeline` is killed
# (kill -9); the job must end within 10 s (no rank left waiting forever) with Open MPI's message naming
# the lost rank. Then the same in a sweep: the point whose rank is killed is recorded `failed` and
# `ffbench run` goes on to the next point. Usage: tests/mpi/fault_rank_test.sh MPIRUN PATH_TO_FFBENCH
set -euo pipefail
mpirun=${1:?usage: fault_rank_test.sh MPIRUN PATH_TO_FFBENCH} ffbench=${2:?usage: fault_rank_test.sh MPIRUN PATH_TO_FFBENCH}
work=$(mktemp -d)
trap 'pkill -KILL -f -- "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "fault_rank_test: FAIL: $*" >&2; exit 1; }

# The rank-1 process of the job whose command line holds $1 (Open MPI sets OMPI_COMM_WORLD_RANK).
rank1_of() {
  for pid in $(pgrep -f -- "$1" || true); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then echo "$pid"; return 0; fi
  done
  return 0
}
common=(-d synthetic -l 256,256,256 -b 32 -e 200 --limit-train 4096 --limit-test 256 -t 1)
for mode in data pipeline; do
  options=(-a bp)
  [[ $mode == pipeline ]] && options=(-a ff -o schedule=pipelined -o classifier=false)
  "$mpirun" -np 2 "$ffbench" train "${options[@]}" --distributed "$mode" "${common[@]}" --json "$work/$mode.json" \
    >"$work/$mode.log" 2>&1 &
  job=$!
  rank1=""
  for _ in $(seq 1 200); do rank1=$(rank1_of "$work/$mode.json"); [[ -n $rank1 ]] && break; sleep 0.05; done
  [[ -n $rank1 ]] || fail "$mode: no rank-1 process found: $(tail -3 "$work/$mode.log")"
  sleep 1  # inside training
  kill -0 "$job" 2>/dev/null || fail "$mode: the job ended before rank 1 could be killed; make it longer"
  kill -KILL "$rank1"
  killed_at=$(date +%s.%N)
  ended=""
  for _ in $(seq 1 100); do kill -0 "$job" 2>/dev/null || { ended=1; break; }; sleep 0.1; done
  seconds=$(/usr/bin/python3 -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$killed_at")
  [[ -n $ended ]] || fail "$mode: mpirun still runs 10 s after rank 1 was killed (a hang)"
  status=0
  wait "$job" || status=$?
  (( status != 0 )) || fail "$mode: mpirun exited 0 after losing a rank"
  grep -Eiq "rank 1 .*(exited on signal 9|killed)|process rank 1" "$work/$mode.log" ||
    fail "$mode: no message names the lost rank 1: $(tail -5 "$work/$mode.log")"
  echo "fault_rank_test: $mode: rank 1 (pid $rank1) killed; mpirun exited $status after ${seconds} s: $(grep -Ei -m1 "rank 1" "$work/$mode.log")"
done

# In a sweep: the first point's rank 1 is killed; it is recorded failed and the second point runs.
cat >"$work/suite.json" <<'JSON'
{"schema": 1, "name": "fault-rank", "description": "A distributed point whose rank is killed, then one more point.",
 "dataset": "synthetic", "limit_train": 4096, "limit_test": 256, "defaults": {"threads": 1, "batch": 32, "hidden": [256, 256, 256]},
 "experiments": [
   {"name": "a-distributed", "measure": "convergence", "epochs": 200, "ranks": [2],
    "algorithms": [{"algorithm": "bp", "label": "bp-data", "distributed": "data"}]},
   {"name": "b-after", "measure": "convergence", "epochs": 1, "hidden": [16], "algorithms": [{"algorithm": "bp"}]}]}
JSON
"$ffbench" run "$work/suite.json" --out-dir "$work/runs" >"$work/run.log" 2>&1 &
runner=$!
rank1=""
for _ in $(seq 1 600); do rank1=$(rank1_of "point --point-file $work/runs"); [[ -n $rank1 ]] && break; sleep 0.05; done
[[ -n $rank1 ]] || fail "sweep: no rank-1 point process found: $(tail -3 "$work/run.log")"
sleep 1
kill -KILL "$rank1"
ended=""
for _ in $(seq 1 300); do kill -0 "$runner" 2>/dev/null || { ended=1; break; }; sleep 0.1; done
[[ -n $ended ]] || fail "sweep: ffbench run still runs 30 s after the rank was killed"
status=0
wait "$runner" || status=$?
/usr/bin/python3 - "$work/runs" <<'PY' || fail "sweep: the killed point is not failed, or the next point did not run: $(tail -5 "$work/run.log")"
import glob, json, sys
results = {json.load(open(f))["id"].split(".")[0]: json.load(open(f)) for f in glob.glob(sys.argv[1] + "/*/points/*.json")
           if not f.endswith(".point.json")}
assert results["a-distributed"]["status"] == "failed", results["a-distributed"]["status"]
assert results["b-after"]["status"] == "ok", results["b-after"]["status"]
print("fault_rank_test: sweep: the killed point failed (" + results["a-distributed"]["detail"][:120].replace("\n", " ") + "...), the next point ok")
PY
(( status == 4 )) || fail "sweep: ffbench run exited $status, expected 4 (a point failed)"
