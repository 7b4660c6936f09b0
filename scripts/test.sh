#!/usr/bin/env bash
# The test command: set-up, configure, build and run every test under AddressSanitizer and
# UndefinedBehaviorSanitizer (the `debug` preset), then the contract tests again in the release
# build (allocation counting needs the real operator new, which ASan replaces).
# Usage: scripts/test.sh [ctest arguments for the debug run...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ${1:-} == --help || ${1:-} == -h ]]; then
  echo "scripts/test.sh [ctest args]: setup, debug (ASan+UBSan) build + ctest, release build + contract tests"; exit 0
fi
scripts/setup.sh
cmake --preset debug
cmake --build --preset debug -j "$(nproc)"
ctest --preset debug -j "$(nproc)" "$@"
cmake --preset release
cmake --build --preset release -j "$(nproc)"
build/release/tests/ffbench_tests "[contract]"
