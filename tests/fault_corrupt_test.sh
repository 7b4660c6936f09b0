#!/usr/bin/env bash
# Issue 37, damaged results: in a finished run folder one result file is truncated and one replaced
# with garbage; `ffbench run --resume` must say which points it reruns and why, rerun exactly those
# two, and leave the others' files byte for byte. Usage: tests/fault_corrupt_test.sh PATH_TO_FFBENCH
set -euo pipefail
export LC_ALL=C  # byte-wise matching: the log may quote the garbage's bytes
ffbench=${1:?usage: fault_corrupt_test.sh PATH_TO_FFBENCH}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "fault_corrupt_test: FAIL: $*" >&2; exit 1; }

"$ffbench" run "$here/fixtures/fault_suite.json" --only convergence --out-dir "$work" >"$work/first.log" 2>&1 ||
  fail "the first run failed: $(tail -5 "$work/first.log")"
run_dir=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
mapfile -t results < <(find "$run_dir/points" -name '*.json' ! -name '*.point.json' | sort)
(( ${#results[@]} == 6 )) || fail "expected 6 convergence results, found ${#results[@]}"
truncated=${results[1]} garbage=${results[4]}
head -c 200 "$truncated" >"$work/t" && cat "$work/t" >"$truncated"
# Seeded garbage (same bytes every run), with bytes that are not valid UTF-8 and a newline among them.
/usr/bin/python3 -c "import random,sys; r=random.Random(37); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(1500)))" >"$garbage"
declare -A before
for f in "${results[@]}"; do before[$f]=$(sha256sum "$f" | cut -d' ' -f1); done

"$ffbench" run --resume "$run_dir" --only convergence >"$work/resume.log" 2>&1 || fail "resume failed: $(tail -5 "$work/resume.log")"
for f in "$truncated" "$garbage"; do
  id=$(basename "$f" .json)
  grep -aEq "^\[[0-9]+/[0-9]+\] $id: its result file is unreadable \(.*\): running it again" "$work/resume.log" ||
    fail "the resume does not say it reruns $id and why: $(grep -aF "$id" "$work/resume.log" | head -3)"
  /usr/bin/python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['status'] in ('ok','collapsed')" "$f" ||
    fail "$id was not rerun to a finished result"
done
for f in "${results[@]}"; do
  [[ $f == "$truncated" || $f == "$garbage" ]] && continue
  id=$(basename "$f" .json)
  [[ $(sha256sum "$f" | cut -d' ' -f1) == "${before[$f]}" ]] || fail "$id was rerun or changed"
  grep -aq "$id already finished" "$work/resume.log" || fail "the resume does not report $id as finished"
done
reruns=$(grep -ac "running it again" "$work/resume.log")
(( reruns == 2 )) || fail "$reruns points said to rerun, expected 2"
grep -aE "running it again" "$work/resume.log" | sed 's/^/fault_corrupt_test: /'
echo "fault_corrupt_test: the truncated and the garbage result were rerun with the reason, the 4 others kept byte for byte"
