#!/usr/bin/env bash
# Issue 37, a dataset replaced during a suite: `ffbench run` fingerprints the dataset files when the
# run starts and checks them before each point. The test points FFBENCH_DATA at a small generated
# MNIST-format (IDX) copy, changes one file as soon as the first point has finished, and checks that
# the points started after the change fail with an error naming the file (no point mixes data), and
# that after restoring the file --resume reruns them. Usage: tests/fault_dataset_test.sh PATH_TO_FFBENCH
set -euo pipefail
ffbench=${1:?usage: fault_dataset_test.sh PATH_TO_FFBENCH}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "fault_dataset_test: FAIL: $*" >&2; exit 1; }
export FFBENCH_DATA="$work/data"
/usr/bin/python3 - "$FFBENCH_DATA/mnist" <<'PY'
import os, random, struct, sys
os.makedirs(sys.argv[1])
r = random.Random(37)
for prefix, n in (("train", 400), ("t10k", 100)):
    labels = [r.randrange(10) for _ in range(n)]
    pixels = bytes(min(255, (l * 25 + r.randrange(60)) if (i % 10) == l else r.randrange(40))
                   for l in labels for i in range(784))
    with open(os.path.join(sys.argv[1], f"{prefix}-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + pixels)
    with open(os.path.join(sys.argv[1], f"{prefix}-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(labels))
PY
cat >"$work/suite.json" <<'JSON'
{"schema": 1, "name": "fault-dataset", "description": "Four short points on a generated MNIST-format dataset.",
 "dataset": "mnist", "limit_train": 400, "limit_test": 100, "defaults": {"threads": 1, "batch": 50, "hidden": [16]},
 "experiments": [{"name": "convergence", "measure": "convergence", "epochs": 1, "seeds": [1, 2, 3, 4],
                  "algorithms": [{"algorithm": "bp"}]}]}
JSON
images="$FFBENCH_DATA/mnist/train-images-idx3-ubyte"
cp "$images" "$work/original"

"$ffbench" run "$work/suite.json" --out-dir "$work/runs" >"$work/run.log" 2>&1 &
runner=$!
changed=""
for _ in $(seq 1 3000); do
  if compgen -G "$work/runs/*/points/convergence.bp.*-s1.json" >/dev/null; then
    printf '\x07' | dd of="$images" bs=1 seek=5000 conv=notrunc 2>/dev/null  # one pixel of another image
    changed=1
    break
  fi
  sleep 0.01
done
status=0
wait "$runner" || status=$?
[[ -n $changed ]] || fail "the first point never finished: $(tail -5 "$work/run.log")"
(( status == 4 )) || fail "ffbench run exited $status, expected 4 (points failed): $(tail -5 "$work/run.log")"
run_dir=$(find "$work/runs" -mindepth 1 -maxdepth 1 -type d | head -n 1)
/usr/bin/python3 - "$run_dir" "$images" <<'PY' || fail "the points after the change did not fail as they should"
import json, os, sys
run, images = sys.argv[1:]
status = {}
for s in (1, 2, 3, 4):
    r = json.load(open(os.path.join(run, "points", f"convergence.bp.d1-w16-b50-t1-s{s}.json")))
    status[s] = r["status"]
    if r["status"] == "failed":
        assert f"dataset file {images} changed since the run started" in r["detail"], r["detail"]
        assert "restore it" in r["detail"], r["detail"]
assert status[1] == "ok", status
# Seed 2 may have started before the change (then it loaded the old file whole); 3 and 4 started after.
assert status[3] == status[4] == "failed", status
print("fault_dataset_test: after the change:", status)
PY
grep -q "dataset file $images changed since the run started (fingerprint then: " "$work/run.log" ||
  fail "ffbench run does not print the error: $(tail -3 "$work/run.log")"
grep -m1 "changed since" "$work/run.log" | sed 's/^/fault_dataset_test: /'

# Still changed: a resume refuses too. Restored: the resume reruns the failed points.
"$ffbench" run --resume "$run_dir" >"$work/changed.log" 2>&1 && fail "a resume with the changed file succeeded"
grep -q "changed since the run started" "$work/changed.log" || fail "the resume does not name the change"
cp "$work/original" "$images"
"$ffbench" run --resume "$run_dir" >"$work/resume.log" 2>&1 || fail "the resume after restoring failed: $(tail -5 "$work/resume.log")"
grep -q "its earlier try failed" "$work/resume.log" || fail "the resume does not say why it reruns the failed points"
/usr/bin/python3 -c "
import json, sys
assert all(e['status'] == 'ok' for e in json.load(open(sys.argv[1]))), 'not every point ok after the restore'" "$run_dir/index.json" ||
  fail "not every point finished after restoring the file"
echo "fault_dataset_test: the points after the change failed naming the file; restored, the resume finished them"
