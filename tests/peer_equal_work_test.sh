#!/usr/bin/env bash
# Equal work, proven: ffbench and the PyTorch peer start from the same weights (ffbench's weights
# file) on the same batch; the first steps' losses and the updated weights must agree.
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
  /usr/bin/python3 "$here/../scripts/peers/torch_peer.py" --equal-work --algorithm "$algorithm" --options "$options" \
      --weights "$dir/initial.weights" --batch "$dir/batch.bin" --steps 3 --out "$dir/torch.json"
  /usr/bin/python3 - "$dir" "$algorithm" "$options" <<'PY'
import json, struct, sys
sys.path.insert(0, sys.argv[0])
d, algorithm, options = sys.argv[1], sys.argv[2], sys.argv[3]
ours = json.load(open(f"{d}/ffbench.json"))
theirs = json.load(open(f"{d}/torch.json"))
for a, b in zip(ours["losses"], theirs["losses"]):
    assert abs(a - b) <= 1e-4 * (1 + abs(b)), f"{algorithm} {options}: losses differ: {ours['losses']} vs {theirs['losses']}"
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
assert worst <= 1e-4, f"{algorithm} {options}: updated weights differ by up to {worst}"
print(f"equal work: {algorithm} {options}: losses {['%.6f' % l for l in ours['losses']]} agree; weights within {worst:.2e}")
PY
  checks=$((checks + 1))
done
echo "peer_equal_work_test: $checks passed, 0 failed"
