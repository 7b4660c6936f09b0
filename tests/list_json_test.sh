#!/usr/bin/env bash
# `ffbench list --json` is the one list that scripts, the report and the regression check read: every
# algorithm with its options (default, help, range), prediction modes and distributed modes; every
# dataset; every suite file in bench/suites/. Usage: tests/list_json_test.sh path/to/ffbench
set -euo pipefail
ffbench="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ffbench" list --json > /tmp/ffbench-list-$$.json
trap 'rm -f /tmp/ffbench-list-$$.json' EXIT
/usr/bin/python3 - "$root" /tmp/ffbench-list-$$.json <<'PY'
import json, os, sys
root, path = sys.argv[1], sys.argv[2]
listed = json.load(open(path))
algorithms = listed["algorithms"]
names = [a["name"] for a in algorithms]
assert len(names) == len(set(names)), f"duplicate algorithm names: {names}"
for a in algorithms:
    assert a["summary"], a["name"]
    assert a["prediction_modes"], a["name"]
    assert isinstance(a["data_parallel"], bool) and isinstance(a["pipeline"], str), a["name"]
    options = {o["name"]: o for o in a["options"]}
    for required in ("optimizer", "lr", "precision"):
        assert required in options, f"{a['name']} has no option {required}"
    for o in a["options"]:
        assert "default" in o and o["help"], (a["name"], o)
    assert options["lr"]["min"] == 0 and options["lr"]["min_exclusive"], (a["name"], options["lr"])
# Every algorithm has a folder with a README (the math and the source), and no folder is unregistered.
folders = sorted(d for d in os.listdir(os.path.join(root, "algorithms"))
                 if os.path.isdir(os.path.join(root, "algorithms", d)) and d != "backend")
assert sorted(names) == folders, f"registered {sorted(names)} but folders {folders}"
for name in names:
    assert os.path.exists(os.path.join(root, "algorithms", name, "README.md")), f"algorithms/{name}/README.md is missing"
datasets = {d["name"]: d for d in listed["datasets"]}
# Published figures name a registered dataset, an accuracy in (0, 1], the source's setup and the source.
for a in algorithms:
    for figure in a["published"]:
        assert figure["dataset"] in datasets, (a["name"], figure)
        assert 0 < figure["accuracy"] <= 1 and figure["setup"] and figure["source"], (a["name"], figure)
assert "synthetic" in datasets and datasets["synthetic"]["available"] is True, datasets
for d in datasets.values():
    assert d["summary"] and isinstance(d["available"], bool), d
suites = sorted(f[:-5] for f in os.listdir(os.path.join(root, "bench", "suites")) if f.endswith(".json"))
assert sorted(s["name"] for s in listed["suites"]) == suites, (listed["suites"], suites)
print(f"ffbench list --json: {len(names)} algorithms ({', '.join(names)}), {len(datasets)} datasets, {len(suites)} suites")
PY
