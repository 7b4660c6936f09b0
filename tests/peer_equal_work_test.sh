#!/usr/bin/env bash
# Equal work, proven: ffbench and the PyTorch peer start from the same weights (ffbench's weights
# file) on the same batch; the first steps' losses and the updated weights must agree.
# The tolerances hold whatever kernel OpenBLAS runs under PyTorch (checked with OPENBLAS_CORETYPE
# Prescott, Haswell, Zen, SkylakeX and Cooperlake: weights within 4e-7 and losses within 2e-6
# relative, against 1e-4 for both); every line names the kernel the peer ran, so a failure can be
# traced to one.
# Usage: tests/peer_equal_work_test.sh PATH_TO_FFBENCH
set -euo pipefail
ffbench=${1:?usage: peer_equal_work_test.sh PATH_TO_FFBENCH}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
checks=0
for case in "bp|{\"optimizer\": \"sgd\", \"lr\": 0.05}" "bp|{\"optimizer\": \"adam\", \"lr\": 0.001}" \
            "ff|{\"negatives\": \"hard\", \"lr\": 0.01}" "ff|{\"negatives\": \"hard\", \"optimizer\": \"adam\", \"lr\": 0.001, \"goodness\": \"mean\", \"norm\": \"l2\", \"threshold\": 2.0}" \
            "ff_symba|{\"negatives\": \"hard\", \"lr\": 0.01}"; do
  algorithm=${case%%|*}
  options=${case#*|}
  dir="$work/$algorithm-$checks"
  "$ffbench" step -a "$algorithm" -l 784,64,32 -b 16 --steps 3 --options "$options" --out "$dir" >/dev/null
  # The peer gets every option ffbench ran with (its defaults included: the tuned ones differ from PyTorch's).
  resolved=$(/usr/bin/python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["options"]))' "$dir/ffbench.json")
  /usr/bin/python3 "$here/../scripts/peers/torch_peer.py" --equal-work --algorithm "$algorithm" --options "$resolved" \
      --weights "$dir/initial.weights" --batch "$dir/batch.bin" --steps 3 --out "$dir/torch.json"
  /usr/bin/python3 - "$dir" "$algorithm" "$options" <<'PY'
import json, struct, sys
sys.path.insert(0, sys.argv[0])
d, algorithm, options = sys.argv[1], sys.argv[2], sys.argv[3]
ours = json.load(open(f"{d}/ffbench.json"))
theirs = json.load(open(f"{d}/torch.json"))
blas = theirs.get("blas") or {}
kernel = f"PyTorch on {blas.get('library')} {blas.get('corename')}, denormals {(theirs.get('denormals') or {}).get('setting')}"
assert blas.get("exact", True), f"{algorithm} {options}: {kernel} computes wrong products: {blas.get('why')}"
loss_gap = 0.0
for a, b in zip(ours["losses"], theirs["losses"]):
    assert abs(a - b) <= 1e-4 * (1 + abs(b)), f"{algorithm} {options}: losses differ ({kernel}): {ours['losses']} vs {theirs['losses']}"
    loss_gap = max(loss_gap, abs(a - b) / (1 + abs(b)))
data = open(f"{d}/updated.weights", "rb").read()
pos = 8
def text():
    global pos
    (n,) = struct.unpack_from("<I", data, pos); pos += 4
    s = data[pos:pos + n].decode(); pos += n
    return s
text(); text()
(count,) = struct.unpack_from("<I", data, pos); pos += 4
worst = 0.0
for _ in range(count):
    name = text()
    (n,) = struct.unpack_from("<Q", data, pos); pos += 8
    values = struct.unpack_from(f"<{n}f", data, pos); pos += 4 * n
    if name in theirs["weights"]:
        worst = max(worst, max(abs(a - b) for a, b in zip(values, theirs["weights"][name])))
assert worst <= 1e-4, f"{algorithm} {options}: updated weights differ by up to {worst} ({kernel})"
print(f"equal work: {algorithm} {options}: losses {['%.6f' % l for l in ours['losses']]} agree (within {loss_gap:.1e} "
      f"relative); weights within {worst:.2e}; {kernel}")
PY
  checks=$((checks + 1))
done
echo "peer_equal_work_test: $checks passed, 0 failed"
