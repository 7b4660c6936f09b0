#!/usr/bin/env bash
# `kill` (SIGTERM) sent to `ffbench run` alone, not to its process group, while a point runs: the
# point must stop too (no orphan left computing), and the sweep must end as interrupted (exit 130)
# with the resume command. Usage: tests/stop_test.sh PATH_TO_FFBENCH
set -euo pipefail
ffbench=${1:?usage: stop_test.sh PATH_TO_FFBENCH}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work=$(mktemp -d)
trap 'pkill -KILL -f -- "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "stop_test: FAIL: $*" >&2; exit 1; }

"$ffbench" run "$here/fixtures/resume_suite.json" --out-dir "$work" >"$work/run.log" 2>&1 &
parent=$!
child=""
for _ in $(seq 1 600); do
  child=$(pgrep -f -- "point --point-file $work" | head -n 1 || true)
  [[ -n $child ]] && break
  sleep 0.1
done
[[ -n $child ]] || fail "no point process started within 60 s: $(tail -3 "$work/run.log")"
kill -TERM "$parent"
status=0
wait "$parent" || status=$?
[[ $status == 130 ]] || fail "ffbench run exited $status, expected 130 (interrupted): $(tail -3 "$work/run.log")"
for _ in $(seq 1 50); do
  kill -0 "$child" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$child" 2>/dev/null; then fail "the point (pid $child) still runs after its sweep was stopped"; fi
grep -Eq "interrupted during|stopped \(signal" "$work/run.log" || fail "no 'interrupted' message: $(tail -3 "$work/run.log")"
grep -q -- "--resume" "$work/run.log" || fail "the message does not say how to resume"
echo "stop_test: SIGTERM to ffbench run stopped its point (pid $child) too; exit 130 with the resume command"
