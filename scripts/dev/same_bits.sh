#!/usr/bin/env bash
# Proves a refactor changed nothing a user can see: trains every registered algorithm (and ff under
# each of its schedules and main options) with two ffbench binaries, at a fixed seed, on 1 and 2
# threads, and requires byte-identical weights files and equal results (every number of `train
# --json` but the timings). The regression check's exact numbers allow 1e-4 relative; this allows 0.
#
# Usage: scripts/dev/same_bits.sh BASELINE_FFBENCH HEAD_FFBENCH [--threads "1 2"]
#   e.g. git worktree add --detach ../base REV && (cd ../base && cmake --preset release &&
#        cmake --build build/release --target ffbench) && scripts/dev/same_bits.sh ../base/build/release/bench/ffbench build/release/bench/ffbench
# Exit 0: every case identical; 1: a case differs (named, with the first differing numbers).
set -euo pipefail
if [[ $# -lt 2 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
base=$(realpath "$1") head=$(realpath "$2")
threads="1 2"
[[ "${3:-}" == "--threads" ]] && threads="$4"
for bin in "$base" "$head"; do
  [[ -x "$bin" ]] || { echo "same_bits: $bin is not an executable ffbench; build it first" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every registered algorithm with its defaults, then ff's schedules and options that take other paths.
mapfile -t algorithms < <("$head" list --json | /usr/bin/python3 -c 'import json,sys; print("\n".join(a["name"] for a in json.load(sys.stdin)["algorithms"]))')
cases=()
for a in "${algorithms[@]}"; do cases+=("$a|"); done
cases+=("ff|-o schedule=layerwise -o layer_steps=4" "ff|-o schedule=pipelined -o classifier=false"
        "ff|-o classifier_features=recompute" "ff|-o peer_normalization=0.03" "ff|-o negatives=sampled"
        "ff|-o goodness=mean -o norm=l2" "ff|-o lr_decay_start=1" "ff_symba|-o schedule=pipelined -o classifier=false")

compare_json() {  # the results without their timings
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, sys
def strip(value):
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if "seconds" not in k and k != "samples_per_second"}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
if a != b:
    print(f"    results differ:\n    baseline {json.dumps(a)[:400]}\n    head     {json.dumps(b)[:400]}")
    sys.exit(1)
EOF
}

failed=0 total=0
for t in $threads; do
  for entry in "${cases[@]}"; do
    algorithm=${entry%%|*} options=${entry#*|}
    total=$((total + 1))
    for side in base head; do
      bin=$base; [[ $side == head ]] && bin=$head
      # shellcheck disable=SC2086  # the options are words
      "$bin" train -a "$algorithm" $options -l 784,64,32,32 -b 64 -e 2 -s 7 -t "$t" --limit-train 1024 \
        --limit-test 512 --save "$work/$side.bin" --json "$work/$side.json" > "$work/$side.out" 2>&1 ||
        { echo "same_bits: $side failed on $algorithm $options:"; tail -3 "$work/$side.out"; exit 1; }
    done
    label="$algorithm ${options:-(defaults)}, $t thread(s)"
    if ! cmp -s "$work/base.bin" "$work/head.bin"; then
      echo "DIFFERS  $label: weights files differ ($(cmp "$work/base.bin" "$work/head.bin" | head -1))"
      failed=$((failed + 1))
    elif ! compare_json "$work/base.json" "$work/head.json"; then
      echo "DIFFERS  $label"
      failed=$((failed + 1))
    else
      echo "same     $label"
    fi
  done
done
echo "same_bits: $((total - failed)) of $total cases identical (weights byte for byte, results number for number)"
[[ $failed -eq 0 ]]
