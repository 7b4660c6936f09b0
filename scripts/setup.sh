#!/usr/bin/env bash
# Installs what ffbench needs and fetches the datasets. Idempotent: a second run installs nothing
# and says so. Usage: scripts/setup.sh [--no-data] [--with-peers] [--verify BUILD_DIR] [--help]
set -euo pipefail

usage() {
  cat <<'USAGE'
scripts/setup.sh: install ffbench's build, test and report dependencies (Debian packages), then
fetch MNIST and Fashion-MNIST into the data cache (scripts/fetch_data.sh).

  --no-data      skip fetching datasets (the synthetic dataset needs no download)
  --with-peers   also install PyTorch (python3-torch) for the PyTorch peer experiments
  --verify DIR   install nothing; check that every Debian package the CMake configure in DIR used
                 (libraries, headers, package configs, programs in its CMakeCache.txt) is on this
                 script's list or a hard dependency of one (scripts/dev/verify_packages.py); a test runs it
  --help         this text

Packages are installed with apt-get (through sudo when not root). Nothing is installed twice.
USAGE
}

fetch_data=1
with_peers=0
verify_dir=""
while (($#)); do
  case "$1" in
    --no-data) fetch_data=0 ;;
    --with-peers) with_peers=1 ;;
    --verify) [[ $# -ge 2 ]] || { echo "setup.sh: --verify needs a configured build folder" >&2; exit 2; }
              verify_dir=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# ocl-icd-opencl-dev: Debian's libdnnl-dev only recommends it, but dnnl-config.cmake calls
# find_package(OpenCL) and configure fails without it. ccache: the regression check builds the
# baseline revision beside HEAD and reuses the objects that did not change. clang-14, libclang-rt-14-dev
# (libFuzzer) and libomp-14-dev: the fuzz targets (scripts/fuzz.sh). iproute2: the emulated network.
packages=(cmake g++ make pkg-config ccache libdnnl-dev ocl-icd-opencl-dev libeigen3-dev libbenchmark-dev catch2
          nlohmann-json3-dev libcli11-dev libfmt-dev zlib1g-dev python3 python3-matplotlib dataset-fashion-mnist npm
          valgrind openmpi-bin libopenmpi-dev iproute2 clang-14 libclang-rt-14-dev libomp-14-dev)
# OpenBLAS: without it Debian's PyTorch falls back to the reference BLAS (about 6 GFLOP/s here).
if [[ $with_peers == 1 ]]; then packages+=(python3-torch libopenblas0-pthread); fi

if [[ -n $verify_dir ]]; then
  exec /usr/bin/python3 "$here/dev/verify_packages.py" "$verify_dir" "${packages[@]}"
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm may come with Node.js outside Debian's packages; that is fine too.
if command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages already installed"
else
  sudo_cmd=()
  if [[ $(id -u) != 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
      echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1
    fi
  fi
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup: installed ${#missing[@]} package(s)"
fi

if [[ $fetch_data == 1 ]]; then
  "$here/fetch_data.sh"
else
  echo "setup: skipped dataset fetch (--no-data)"
fi
