#!/bin/bash
# One device call: machine facts, the carried libraries (oneDNN, fmt, Open MPI + PMIx, hwloc,
# libevent from this Debian) unpacked where absent, then the cores16 suite under a time limit and
# the run folder tarred into $OUT (also when the limit stops it).
set -u
exec > >(tee "$OUT/log.txt") 2>&1
echo "== machine"; date -u; nproc; lscpu; head -3 /proc/meminfo; cat /etc/os-release | head -2
echo "== libraries"
tar -C / --skip-old-files -xJf .devcarry/sysroot.tar.xz && ldconfig
mkdir -p /tmp/bin; command -v mpirun || ln -sf /usr/bin/orterun /tmp/bin/mpirun
export PATH=/tmp/bin:$PATH
ldd .devcarry/ffbench | grep -i 'not found'
mpirun --allow-run-as-root -np 2 hostname 2>&1 | tail -3
mkdir -p /tmp/data && tar -C /tmp/data -xJf .devcarry/mnist.tar.xz && export FFBENCH_DATA=/tmp/data
echo "== suite"
start=$SECONDS
timeout ${SUITE_LIMIT:-470} .devcarry/ffbench run bench/suites/cores16.json --out-dir /tmp/runs --yes 2>&1 | tr '\r' '\n' | grep -v -E ' [0-9]+% ' 
echo "suite rc=${PIPESTATUS[0]} after $((SECONDS - start)) s"
tar -C /tmp/runs -czf "$OUT/run.tgz" . && ls -la "$OUT"
