#!/usr/bin/env bash
# The test command: set-up, configure, build and run every test under AddressSanitizer and
# UndefinedBehaviorSanitizer (the `debug` preset). Usage: scripts/test.sh [ctest arguments...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ${1:-} == --help || ${1:-} == -h ]]; then
  echo "scripts/test.sh [ctest args]: setup, configure (debug preset: ASan+UBSan), build, ctest"; exit 0
fi
scripts/setup.sh
cmake --preset debug
cmake --build --preset debug -j "$(nproc)"
ctest --preset debug -j "$(nproc)" "$@"
