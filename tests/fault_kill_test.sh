#!/usr/bin/env bash
# Issue 37, a power cut at any moment: a small sweep (tests/fixtures/fault_suite.json, 10 points) is
# killed with SIGKILL (its whole process group, the point too) 20 times at seeded moments, each
# followed by `ffbench run --resume`: after a seeded delay (during the start's measurements, inside a
# point), or the instant a point's file or a result file appears in points/ (between points, while a
# result is written or just after; see the plan below). Checks: every
# result file finished before a kill is byte for byte the same at the end; no *.tmp is left and
# every .json parses; the suite is complete; and scripts/report.py gives the same REPORT.md
# structure as an uninterrupted run of the same suite (see compare_reports below for what is compared).
# Usage: tests/fault_kill_test.sh PATH_TO_FFBENCH [KILLS] [SEED]
set -euo pipefail
ffbench=${1:?usage: fault_kill_test.sh PATH_TO_FFBENCH [KILLS] [SEED]}
kills=${2:-20} seed=${3:-37}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite="$here/fixtures/fault_suite.json"
work=$(mktemp -d)
leader=""
trap '[[ -n $leader ]] && kill -KILL -- "-$leader" 2>/dev/null; rm -rf "$work"' EXIT
exec 3>&2  # the kill loop's stderr is dropped (bash reports every killed job); failures go to fd 3
fail() { echo "fault_kill_test: FAIL: $*" >&3; exit 1; }

# The uninterrupted reference, run beside the killed sweep on the second core (its points use one
# thread; only its report's structure is compared, so its times may suffer).
"$ffbench" run "$suite" --out-dir "$work/reference" >"$work/reference.log" 2>&1 &
reference_pid=$!

# The seeded plan, one line per kill: "delay SECONDS" (during the start's measurements or inside a
# point), or the instant points/ gets (inotify) "point-file" (the next point's file: between points,
# before its process starts), "result-tmp" (a result's .tmp: while it is written) or "result-renamed"
# (a result put in place: just after, while the runner reaps the point). The first kill falls in the
# start's measurements, before the run folder exists; until a run folder exists, the next start is
# killed the instant it appears (with its manifest: it is renamed into place whole).
mapfile -t plan < <(/usr/bin/python3 -c '
import random, sys
r = random.Random(int(sys.argv[2]))
n = int(sys.argv[1])
kinds = ["point-file", "result-tmp", "result-renamed"] * (n // 5)
kinds = ["delay"] + r.sample(kinds + ["delay"] * (n - 1 - len(kinds)), n - 1)
for kind in kinds:
    print(f"delay {r.uniform(0.3, 1.8):.2f}" if kind == "delay" else kind)' "$kills" "$seed")

# Kills process group $2 the instant points/ ($1) gets a file of kind $3; exits 3 without killing
# when the sweep ends first.
kill_on_file() {
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import ctypes, os, select, signal, struct, sys
points, group, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
IN_CREATE, IN_MOVED_TO = 0x100, 0x80
fd = libc.inotify_init()
if fd < 0 or libc.inotify_add_watch(fd, points.encode(), IN_CREATE | IN_MOVED_TO) < 0:
    sys.exit(f"inotify on {points}: {os.strerror(ctypes.get_errno())}")
def wanted(mask, name):
    if kind == "point-file":
        return name.endswith(".point.json.tmp")
    if name.endswith(".point.json") or name.endswith(".point.json.tmp"):
        return False
    if kind == "result-tmp":
        return bool(mask & IN_CREATE) and name.endswith(".json.tmp")
    return bool(mask & IN_MOVED_TO) and name.endswith(".json")
def ended():
    try:
        return open(f"/proc/{group}/stat").read().split(")")[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
while not ended():
    if not select.select([fd], [], [], 0.05)[0]:
        continue
    data = os.read(fd, 65536)
    while data:
        _, mask, _, size = struct.unpack_from("iIII", data)
        name = data[16:16 + size].split(b"\0")[0].decode()
        if wanted(mask, name):
            os.killpg(group, signal.SIGKILL)
            sys.exit(0)
        data = data[16 + size:]
sys.exit(3)
PY
}

declare -A hash_of  # result file -> sha256 when first seen finished
run_dir="" started="" survived=0 on_file=0 tmp_seen=0 finished_early=0
{
for step in "${plan[@]}"; do
  if [[ -n $run_dir ]]; then
    setsid "$ffbench" run --resume "$run_dir" >>"$work/faulted.log" 2>&1 &
  else
    setsid "$ffbench" run "$suite" --out-dir "$work/faulted" >>"$work/faulted.log" 2>&1 &
  fi
  leader=$!
  hit=0
  if [[ -z $run_dir && -n $started ]]; then
    step="manifest"
    until find "$work/faulted" -mindepth 2 -maxdepth 2 -name manifest.json ! -path '*.partial/*' 2>/dev/null | grep -q . ||
      ! kill -0 "$leader" 2>/dev/null; do sleep 0.001; done
    if kill -0 "$leader" 2>/dev/null; then hit=1; fi
  elif [[ $step != delay* ]]; then
    if kill_on_file "$run_dir/points" "$leader" "$step"; then hit=1 on_file=$((on_file + 1)); fi
  else
    sleep "${step#delay }"
    if kill -0 "$leader" 2>/dev/null; then hit=1; fi
  fi
  if (( hit )); then survived=$((survived + 1)); else finished_early=$((finished_early + 1)); fi
  kill -KILL -- "-$leader" 2>/dev/null || true
  wait "$leader" 2>/dev/null || true
  leader=""
  if [[ -z $run_dir ]]; then
    started=1
    # A run folder appears whole (made as <name>.partial, renamed once its manifest is written): a
    # kill before that leaves no folder --resume would refuse, and nothing was measured.
    run_dir=$(find "$work/faulted" -mindepth 1 -maxdepth 1 -type d ! -name '*.partial' 2>/dev/null | head -n 1 || true)
    if [[ -n $run_dir && ! -s $run_dir/manifest.json ]]; then fail "$(basename "$run_dir") exists without its manifest"; fi
  fi
  echo "kill $((survived + finished_early)) ($step): $( ((hit)) && echo "hit the running sweep" || echo "the sweep had ended"), $(
    find "${run_dir:-$work/none}/points" -name '*.json' ! -name '*.point.json' 2>/dev/null | wc -l) result files" >&3
  [[ -n $run_dir ]] || continue
  tmp_seen=$((tmp_seen + $(find "$run_dir/points" -name '*.tmp' | wc -l)))
  # Every result file that holds a finished point: its bytes now, or the same bytes as when first seen.
  while read -r status file; do
    sum=$(sha256sum "$file" | cut -d' ' -f1)
    if [[ -n ${hash_of[$file]:-} ]]; then
      [[ ${hash_of[$file]} == "$sum" ]] || fail "$(basename "$file") changed after it had finished (kill $((survived + finished_early)))"
    else
      hash_of[$file]=$sum
    fi
  done < <(/usr/bin/python3 - "$run_dir/points" <<'PY'
import json, os, sys
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    if name.endswith(".json") and not name.endswith(".point.json"):
        with open(os.path.join(d, name)) as f:
            status = json.load(f)["status"]  # a half-written result fails here
        if status in ("ok", "diverged", "collapsed", "skipped"):
            print(status, os.path.join(d, name))
PY
  ) || fail "a result file does not parse after a kill"
done
} 2>/dev/null
(( survived >= kills * 3 / 4 )) || fail "only $survived of $kills kills hit a running sweep; make the fixture longer"

"$ffbench" run --resume "$run_dir" >"$work/final.log" 2>&1 || fail "the last resume exited non-zero: $(tail -5 "$work/final.log")"
for file in "${!hash_of[@]}"; do
  [[ $(sha256sum "$file" | cut -d' ' -f1) == "${hash_of[$file]}" ]] || fail "$(basename "$file") was redone or changed"
done
/usr/bin/python3 - "$run_dir" <<'PY' || fail "the resumed run is not complete and clean"
import json, os, sys
run = sys.argv[1]
points = os.path.join(run, "points")
left = [n for n in os.listdir(points) if n.endswith(".tmp")]
assert not left, f"temporary files left behind: {left}"
for n in os.listdir(points):
    if n.endswith(".json"):
        json.load(open(os.path.join(points, n)))
index = json.load(open(os.path.join(run, "index.json")))
total = json.load(open(os.path.join(run, "manifest.json")))["points"]
assert len(index) == total, f"{len(index)} points in index.json, {total} in the suite"
assert all(e["status"] in ("ok", "collapsed") for e in index), index
PY
wait "$reference_pid" || fail "the uninterrupted run failed: $(tail -5 "$work/reference.log")"
reference_dir=$(find "$work/reference" -mindepth 1 -maxdepth 1 -type d | head -n 1)
for dir in "$reference_dir" "$run_dir"; do
  /usr/bin/python3 "$here/../scripts/report.py" "$dir" >"$work/report.log" 2>&1 || fail "report.py failed: $(tail -5 "$work/report.log")"
done
# What is compared: every heading, the Suite section's lines (dataset, point count by status, seeds),
# the first cell of every table row, every picture link and the plots made. Numbers that are timings
# (and the verdicts drawn from them, which can flip between two runs on a noisy machine) are not, nor
# the "efficiencies above 100 %" table, which a busy machine's slow ceiling measurement can cause.
compare_reports() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import os, sys
def structure(run):
    lines, timing_table = [], False
    for line in open(os.path.join(run, "REPORT.md")):
        line = line.rstrip("\n")
        timing_table = line.startswith("**Measurement bug") or (timing_table and (line.startswith("|") or not line))
        if timing_table:
            continue
        if line.startswith("#") or line.startswith("![") or line.startswith(("Dataset:", "Points:", "Seeds:")):
            lines.append(line)
        elif line.startswith("|") and not line.startswith("|---"):
            lines.append("| " + line.split("|")[1].strip())
    return lines + sorted(os.listdir(os.path.join(run, "plots")))
a, b = structure(sys.argv[1]), structure(sys.argv[2])
if a != b:
    import difflib
    sys.exit("\n".join(difflib.unified_diff(a, b, "uninterrupted", "killed and resumed", lineterm="")))
print(f"{len(a)} structure lines equal")
PY
}
compare_reports "$reference_dir" "$run_dir" || fail "REPORT.md differs from the uninterrupted run's"
echo "fault_kill_test: $survived kills hit a running sweep ($on_file the instant a point or result file appeared; $tmp_seen .tmp files" \
     "seen right after a kill), $finished_early found it finished; ${#hash_of[@]} finished results kept byte for byte," \
     "0 points lost; the report matches the uninterrupted run's"
