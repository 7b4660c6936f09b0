#!/usr/bin/env bash
# The main job: set up, build (release), run a suite (default: quick) and write its report.
# Usage: scripts/run.sh [SUITE] [ffbench run options...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ${1:-} == --help || ${1:-} == -h ]]; then
  echo "scripts/run.sh [SUITE]: setup, release build, 'ffbench run SUITE' (default quick), then scripts/report.py"; exit 0
fi
suite=${1:-quick}
shift || true
scripts/setup.sh --with-peers
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target ffbench
out=$(mktemp)
status=0
build/release/bench/ffbench run "$suite" "$@" | tee "$out" || status=$?
run_dir=$(sed -n 's/.*results in \(.*\)$/\1/p' "$out" | tail -n 1)
rm -f "$out"
[[ -n $run_dir ]] || { echo "run.sh: could not find the run folder in ffbench's output" >&2; exit 1; }
/usr/bin/python3 scripts/report.py "$run_dir"
echo "run.sh: report at $run_dir/REPORT.md"
exit "$status"
