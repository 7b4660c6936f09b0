#!/usr/bin/env bash
# Packs what a suite run needs on another x86-64 Linux machine that has none of this project's
# packages (the workplace's device machine: Ubuntu, no network): the release ffbench, the Debian
# files of the shared libraries it and mpirun load (oneDNN, fmt, OpenCL loader, Open MPI + PMIx,
# hwloc, libevent), MNIST when fetched, and run.sh, which unpacks the libraries where the machine
# lacks them, runs the suite under a time limit and tars the run folder into $OUT.
# Made for reports/published/cores16-20261130/ (its README says how it went).
#
# usage: scripts/dev/device_bundle.sh [--suite NAME_OR_PATH] [--limit SECONDS] [--out DIR]
# default: suite bench/suites/cores16.json, limit 470 s, out .devcarry (add it to .git/info/exclude,
# then name it in the device call's carry; the command: bash .devcarry/run.sh).
# Finish an interrupted run on the same (still warm) machine:
#   export PATH=/tmp/bin:$PATH FFBENCH_DATA=/tmp/data; .devcarry/ffbench run --resume /tmp/runs/RUN
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
suite=bench/suites/cores16.json limit=470 out=.devcarry
while [[ $# -gt 0 ]]; do
  case $1 in
    --suite) suite=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "device_bundle: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $suite == */* || $suite == *.json ]] || suite=bench/suites/$suite.json
[[ -f $suite ]] || { echo "device_bundle: no suite file $suite" >&2; exit 2; }
ffbench=build/release/bench/ffbench
[[ -x $ffbench ]] || { echo "device_bundle: $ffbench not built: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
command -v dpkg >/dev/null || { echo "device_bundle: needs dpkg (a Debian machine with scripts/setup.sh's packages)" >&2; exit 2; }
packages=(libdnnl2 libfmt9 ocl-icd-libopencl1 openmpi-bin openmpi-common libopenmpi3 libpmix2 libhwloc15
          libevent-core-2.1-7 libevent-pthreads-2.1-7)
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || { echo "device_bundle: package $p is not installed (scripts/setup.sh installs it)" >&2; exit 2; }
done
mkdir -p "$out"
cp "$ffbench" "$out/ffbench"
dpkg -L "${packages[@]}" | grep -v -E '/doc/|/man/|lintian|/include/' | while read -r f; do
  [[ (-f $f || -L $f) && ! -d $f ]] && echo "${f#/}"
done | sort -u > "$out/files.txt"
tar -C / -cf - -T "$out/files.txt" | xz -T2 -6 > "$out/sysroot.tar.xz"
data=$("$ffbench" list 2>/dev/null | sed -n 's/^Datasets (data folder: \(.*\)):$/\1/p')
if [[ -n $data && -f $data/mnist/train-images-idx3-ubyte ]]; then
  tar -C "$data" -cf - mnist | xz -T2 -6 > "$out/mnist.tar.xz"
else
  echo "device_bundle: MNIST not fetched here: the suite falls back to its fallback dataset there"
fi
cat > "$out/run.sh" <<EOF
#!/bin/bash
# Made by scripts/dev/device_bundle.sh: machine facts, the carried libraries unpacked where absent,
# the suite under a time limit, the run folder tarred into \$OUT (also when the limit stops it).
set -u
exec > >(tee "\$OUT/log.txt") 2>&1
echo "== machine"; date -u; nproc; lscpu; head -3 /proc/meminfo; head -2 /etc/os-release
echo "== libraries"
tar -C / --skip-old-files -xJf $out/sysroot.tar.xz && ldconfig
mkdir -p /tmp/bin; command -v mpirun || ln -sf /usr/bin/orterun /tmp/bin/mpirun
export PATH=/tmp/bin:\$PATH
ldd $out/ffbench | grep -i 'not found'
mpirun --allow-run-as-root -np 2 hostname 2>&1 | tail -3
if [ -f $out/mnist.tar.xz ]; then mkdir -p /tmp/data && tar -C /tmp/data -xJf $out/mnist.tar.xz && export FFBENCH_DATA=/tmp/data; fi
echo "== suite"
start=\$SECONDS
timeout \${SUITE_LIMIT:-$limit} $out/ffbench run $suite --out-dir /tmp/runs --yes 2>&1 | tr '\r' '\n' | grep -v -E ' [0-9]+% '
echo "suite rc=\${PIPESTATUS[0]} after \$((SECONDS - start)) s"
tar -C /tmp/runs -czf "\$OUT/run.tgz" . && ls -la "\$OUT"
EOF
chmod +x "$out/run.sh"
echo "device_bundle: $out ($(du -sh "$out" | cut -f1)): carry [\"$out\"], command: bash $out/run.sh (timeout_s about $((limit + 100)))"
