#!/usr/bin/env bash
# Issue 37, a full disk: the run folder lives on a small tmpfs. With the disk filled, `ffbench run
# --resume` must fail with an error naming the file it could not write and the reason, damage nothing
# written before (those results still parse, byte for byte) and leave no .tmp; once space is freed,
# --resume completes the suite. Skips (77) where mounting a tmpfs is not permitted.
# Usage: tests/fault_disk_test.sh PATH_TO_FFBENCH
set -euo pipefail
ffbench=${1:?usage: fault_disk_test.sh PATH_TO_FFBENCH}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work=$(mktemp -d)
disk="$work/disk"
mkdir -p "$disk"
trap 'umount "$disk" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "fault_disk_test: FAIL: $*" >&2; exit 1; }
if ! mount -t tmpfs -o size=2m tmpfs "$disk" 2>"$work/mount.err"; then
  echo "fault_disk_test: skipped: cannot mount a tmpfs here ($(head -1 "$work/mount.err")); run as root or with CAP_SYS_ADMIN"
  exit 77
fi

"$ffbench" run "$here/fixtures/fault_suite.json" --only convergence.bp --out-dir "$disk" >"$work/first.log" 2>&1 ||
  fail "the first run failed: $(tail -5 "$work/first.log")"
run_dir=$(find "$disk" -mindepth 1 -maxdepth 1 -type d | head -n 1)
mapfile -t written < <(find "$run_dir" -type f ! -name '*.tmp' | sort)
declare -A before
for f in "${written[@]}"; do before[$f]=$(sha256sum "$f" | cut -d' ' -f1); done

# Fill the disk to the last byte.
dd if=/dev/zero of="$disk/filler" bs=4k >/dev/null 2>&1 || true
(( $(stat -f -c %a "$disk") == 0 )) || fail "the filler did not fill the disk"
status=0
"$ffbench" run --resume "$run_dir" >"$work/full.log" 2>&1 || status=$?
(( status != 0 )) || fail "ffbench run --resume succeeded on a full disk"
grep -E "$run_dir/[^ ]+" "$work/full.log" | grep -q "No space left on device" ||
  fail "the error does not name the file and the reason: $(tail -3 "$work/full.log")"
echo "fault_disk_test: on a full disk (exit $status): $(grep -m1 "No space left" "$work/full.log")"
for f in "${written[@]}"; do
  [[ $(sha256sum "$f" | cut -d' ' -f1) == "${before[$f]}" ]] || fail "$f changed while the disk was full"
done
/usr/bin/python3 - "$run_dir" <<'PY' || fail "a result written before the disk filled no longer parses"
import json, os, sys
for root, _, names in os.walk(sys.argv[1]):
    for n in names:
        assert not n.endswith(".tmp"), f"{n} left behind"
        if n.endswith(".json"):
            json.load(open(os.path.join(root, n)))
PY

rm "$disk/filler"
"$ffbench" run --resume "$run_dir" >"$work/resume.log" 2>&1 || fail "resume after freeing space failed: $(tail -5 "$work/resume.log")"
/usr/bin/python3 - "$run_dir" <<'PY' || fail "the suite is not complete after the resume"
import json, os, sys
index = json.load(open(os.path.join(sys.argv[1], "index.json")))
assert len(index) == 10 and all(e["status"] in ("ok", "collapsed") for e in index), index
PY
for f in "${written[@]}"; do
  [[ $f == */index.json ]] && continue
  [[ $(sha256sum "$f" | cut -d' ' -f1) == "${before[$f]}" ]] || fail "$f was redone by the resume"
done
echo "fault_disk_test: ${#written[@]} files written before the disk filled kept byte for byte; after freeing space the resume finished all 10 points"
