#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang-14, ASan + UBSan) and runs each on its committed
# corpus for a fixed time: the CI's short run, or a campaign. Prints per target the executions, the
# edges covered and what was found; a crash, leak, timeout or sanitizer report fails the run and leaves
# the input under the output folder (make it a regression test: tests/fuzz/README.md).
# usage: scripts/fuzz.sh [--seconds N] [--target NAME]... [--out DIR] [--jobs N] [--no-build] [--help]
# (--no-build: the targets are built already, e.g. several campaigns started side by side)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=20 out="" targets=() jobs=1 build=1
all=(idx suite weights options results)
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --target) targets+=("$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n 2,8p "$0"; echo "targets: ${all[*]}"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t'; the targets: ${all[*]}" >&2; exit 2; }
done
command -v clang++-14 >/dev/null || { echo "fuzz.sh: clang++-14 is missing: scripts/setup.sh installs clang-14 and libclang-rt-14-dev" >&2; exit 2; }
if [[ $build == 1 ]]; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null
fi
out=${out:-$(mktemp -d /tmp/ffbench-fuzz.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} OMP_NUM_THREADS=1
status=0
printf '%-8s %10s %8s %8s %s\n' target execs edges new found
for t in "${targets[@]}"; do
  work="$out/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  dict=()
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="$PWD/tests/fuzz/$t.dict")
  # New inputs go to the first folder (the run's own); the committed corpus is read, never written.
  # With --jobs N libFuzzer runs N workers, each logging to fuzz-K.log in the folder it starts in: the target's own.
  parallel=()
  [[ $jobs -gt 1 ]] && parallel=(-jobs="$jobs" -workers="$jobs")
  root=$(pwd)
  if ! (cd "$work" && "$root/build/fuzz/tests/fuzz/fuzz_$t" "$work/corpus" "$root/tests/fuzz/corpus/$t" "${dict[@]}" \
       -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${parallel[@]}" \
       -artifact_prefix="$work/artifacts/" >"$work/log.txt" 2>&1); then
    status=1
  fi
  execs=$( (grep -h "stat::number_of_executed_units" "$work"/log.txt "$work"/fuzz-*.log 2>/dev/null || true) | awk '{s += $2} END {print s + 0}')
  edges=$( (grep -ho "cov: [0-9]*" "$work/log.txt" "$work"/fuzz-*.log 2>/dev/null || true) | awk '{print $2}' | sort -n | tail -1)
  found=$(find "$work/artifacts" -type f | wc -l)
  printf '%-8s %10s %8s %8s %s\n' "$t" "$execs" "${edges:-?}" "$(find "$work/corpus" -type f | wc -l)" \
    "$([[ $found == 0 ]] && echo none || echo "$found in $work/artifacts (log: $work/log.txt)")"
  [[ $found == 0 ]] || status=1
done
echo "fuzz.sh: logs and new inputs in $out"
exit "$status"
