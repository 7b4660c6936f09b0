#!/usr/bin/env bash
# The test command: set-up, configure, build and run every test under AddressSanitizer and
# UndefinedBehaviorSanitizer (the `debug` preset), then the contract tests again in the release
# build (allocation counting needs the real C allocator, which ASan replaces).
# Usage: scripts/test.sh [ctest arguments for the debug run...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ${1:-} == --help || ${1:-} == -h ]]; then
  echo "scripts/test.sh [ctest args]: setup, debug (ASan+UBSan) build + ctest, release build + contract tests"; exit 0
fi
# --with-peers: the equal-work test against the PyTorch peer is registered only where PyTorch is.
scripts/setup.sh --with-peers
cmake --preset debug
cmake --build --preset debug -j "$(nproc)"
ctest --preset debug -j "$(nproc)" "$@"
cmake --preset release
cmake --build --preset release -j "$(nproc)"
# Allocation counting needs the real C allocator (ASan replaces it), so the contract tests run
# again here. The bf16 case runs apart: on a CPU without bf16 it exits with ctest's skip code (77).
build/release/tests/ffbench_tests "[contract]~[bf16]"
status=0
build/release/tests/ffbench_tests "[contract][bf16]" || status=$?
if [[ $status == 77 ]]; then echo "test.sh: release [contract][bf16] SKIPPED (no bf16 on this CPU)"
elif [[ $status != 0 ]]; then exit "$status"; fi
