#!/usr/bin/env bash
# Where a training step's time goes: perf (software cpu-clock samples, call graphs off) over one
# train_step micro-benchmark, grouped into oneDNN (its library and its JIT-generated kernels),
# ffbench's own kernels, the OpenMP runtime (barriers and spin-waits), and the rest.
#
# Usage: scripts/dev/profile_step.sh [FILTER] [SECONDS]
#   FILTER   a bench_micro benchmark regex (default: train_step/bp/batch:128/depth:2/width:500)
#   SECONDS  minimum measuring time (default 5)
# Needs perf (Debian: linux-perf) and a release build (cmake --preset release && cmake --build --preset release).
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n 2,9p "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
cd "$(dirname "$0")/../.."
filter="${1:-train_step/bp/batch:128/depth:2/width:500}"
seconds="${2:-5}"
binary=build/release/bench/bench_micro
[[ -x "$binary" ]] || { echo "profile_step: $binary is missing; build the release preset first" >&2; exit 1; }
command -v perf >/dev/null || { echo "profile_step: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
perf record -q -e cpu-clock -F 2000 -o "$out/perf.data" -- "$binary" --benchmark_filter="$filter" \
  --benchmark_min_time="$seconds" >"$out/bench.txt" 2>&1 || { cat "$out/bench.txt" >&2; exit 1; }
grep -E "^train_step|^predict|^matmul" "$out/bench.txt" || true
perf report -q -i "$out/perf.data" --stdio --no-children --sort dso,sym 2>/dev/null >"$out/report.txt"
/usr/bin/python3 - "$out/report.txt" <<'PY'
import re, sys
groups, symbols = {}, []
for line in open(sys.argv[1]):
    m = re.match(r"\s*([\d.]+)%\s+(.+?)\s+\[[.kH]\]\s+(.*)", line)  # a DSO name may hold spaces ("[JIT] tid 7")
    if not m:
        continue
    share, dso, sym = float(m.group(1)), m.group(2), m.group(3).strip()
    if "dnnl" in dso or dso.startswith("[JIT]") or dso in ("[unknown]", "anon") or "jit" in sym:
        group = "oneDNN (library + JIT kernels)"
    elif "gomp" in dso:
        group = "OpenMP runtime (barriers, spin-wait)"
    elif dso in ("bench_micro", "ffbench"):
        group = "ffbench kernels and harness"
    elif "libc" in dso or "libm" in dso:
        group = "libc / libm (memset, memcpy, math)"
    else:
        group = "other (" + dso + ")"
    groups[group] = groups.get(group, 0.0) + share
    symbols.append((share, dso, sym))
print("\nshare of samples by group:")
for group, share in sorted(groups.items(), key=lambda kv: -kv[1]):
    print(f"  {share:6.2f}%  {group}")
# Google Benchmark sets the algorithm up again for each of its runs; that setup (the arena's first
# touch: memset and page faults in the kernel) is sampled too. Without it, the step alone:
setup = sum(share for group, share in groups.items() if group.startswith("libc") or group.startswith("other ([kernel"))
print(f"\nthe step alone (setup's memset and page faults, {setup:.1f}% of samples, left out):")
for group, share in sorted(groups.items(), key=lambda kv: -kv[1]):
    if not (group.startswith("libc") or group.startswith("other ([kernel")):
        print(f"  {100 * share / max(100 - setup, 1e-9):6.2f}%  {group}")
print("\ntop symbols:")
for share, dso, sym in sorted(symbols, reverse=True)[:15]:
    print(f"  {share:6.2f}%  {dso:24.24s} {sym[:90]}")
PY
