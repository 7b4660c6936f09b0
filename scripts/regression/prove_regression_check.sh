#!/usr/bin/env bash
# Proves the regression check (bench/README.md: "The regression check") with real code changes. In a scratch
# worktree of HEAD (build/proof-src), measured as "HEAD" by scripts/check_regression.py against the
# real baseline revision:
#   clean     unchanged code, CLEAN times: no metric may regress (false alarms)
#   slowdown  a busy-wait in the OpenMP kernel softmax_xent_backward (once per training step, every
#             algorithm) of a tenth of the time since its previous call: each step takes 10% longer,
#             with no memory and no GEMM work; TRIES times: at least 9 in 10 must be caught
#   gemm      transposed operands copied to a row-major buffer before every product (matmul.cpp),
#             instead of passed by strides: a slower GEMM path
#   memory    an extra planned arena buffer of 10% of the plan in Algorithm::finish_setup; checked
#             twice: against the committed bytes, and with the committed numbers marked as written on
#             another CPU (then against the baseline binary's bytes, A/B)
# Writes only the current run's files to reports/regression-proof/ (old ones deleted first): each
# check's table (NAME.txt) and measurements (NAME.json), and summary.md.
# Takes about 2 min per clean run and 2.5 min per slowdown try (each gets the 8 extra rounds) on 2
# cores: about 50 minutes with the defaults (measured: bench/README.md, "The proof's result").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
usage() {
  cat <<'EOF'
usage: scripts/regression/prove_regression_check.sh [--clean N] [--tries N] [--rounds R] [--only clean|slowdown|gemm|memory]...
  --clean N    clean runs of unchanged code (default 20)
  --tries N    checks of the planted 10% slowdown (default 10)
  --rounds R   A/B rounds per check (default: check_regression.py's)
  --only X     run only these parts (repeatable); the summary covers what ran
EOF
}
command_line="scripts/regression/prove_regression_check.sh $*"
clean=20 tries=10 rounds=() only=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --clean) clean=$2; shift 2 ;;
    --tries) tries=$2; shift 2 ;;
    --rounds) rounds=(--rounds "$2"); shift 2 ;;
    --only) only+=("$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "prove_regression_check: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
wanted() { [[ ${#only[@]} -eq 0 ]] || [[ " ${only[*]} " == *" $1 "* ]]; }

out=reports/regression-proof
proof=build/proof-src
rm -rf "$out"
mkdir -p "$out"
head=$(git rev-parse HEAD)
baseline=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["baseline_revision"])' reports/baselines/ci.json)
if ! git diff --quiet "$baseline" "$head" -- . ':!reports' ':!README.md' ':!*.md'; then
  echo "prove_regression_check: WARNING: HEAD ${head:0:12} is not the baseline revision ${baseline:0:12}; the 'clean'" \
       "runs then measure the changes between them too (move the baseline: scripts/check_regression.py --set-baseline)" >&2
fi

# The scratch worktree, back at HEAD with nothing planted.
reset_proof_tree() {
  git worktree prune
  if git -C "$proof" rev-parse --git-dir >/dev/null 2>&1 && [[ -f $proof/.git ]]; then
    git -C "$proof" checkout --quiet --force --detach "$head"
  else
    rm -rf "$proof"
    git worktree add --quiet --force --detach "$proof" "$head"
  fi
}

# The planted changes: each edits one file of the worktree and fails loudly if its anchor moved.
plant() {
  /usr/bin/python3 - "$1" "$proof" <<'PY'
import sys
change, tree = sys.argv[1], sys.argv[2]
edits = {
    "slowdown": ("algorithms/backend/kernels.cpp", [
        ("#include <algorithm>\n", "#include <algorithm>\n#include <chrono>\n"),
        ("void softmax_xent_backward(const Mat& dlogits, const Mat& probs, const int32_t* labels, float scale) {\n",
         "namespace {\n"
         "std::chrono::steady_clock::time_point planted_last;  // PLANTED: when softmax_xent_backward last finished waiting\n"
         "}  // namespace\n\n"
         "void softmax_xent_backward(const Mat& dlogits, const Mat& probs, const int32_t* labels, float scale) {\n"
         "  {  // PLANTED: busy-wait a tenth of the time since the last call (one training step): steps take 10% longer\n"
         "    const auto now = std::chrono::steady_clock::now();\n"
         "    const auto gap = now - planted_last;\n"
         "    if (gap < std::chrono::milliseconds(200))\n"
         "      while (std::chrono::steady_clock::now() < now + gap / 10) {\n"
         "      }\n"
         "    planted_last = std::chrono::steady_clock::now();\n"
         "  }\n")]),
    "gemm": ("algorithms/backend/matmul.cpp", [
        ("  dnnl::memory a_mem, b_mem, c_mem, bias_mem, scratch_mem;\n",
         "  dnnl::memory a_mem, b_mem, c_mem, bias_mem, scratch_mem;\n"
         "  std::vector<float> a_copy, b_copy;  // PLANTED: transposed f32 operands copied row-major before each product\n"),
        ("  const dnnl::memory::desc a_md(dims{s.m, s.k}, input_type, s.trans_a ? dims{1, s.lda} : dims{s.lda, 1});\n"
         "  const dnnl::memory::desc b_md(dims{s.k, s.n}, input_type, s.trans_b ? dims{1, s.ldb} : dims{s.ldb, 1});\n",
         "  const bool copy_a = s.trans_a && !s.bf16, copy_b = s.trans_b && !s.bf16;  // PLANTED\n"
         "  if (copy_a) impl_->a_copy.resize(static_cast<size_t>(s.m * s.k));\n"
         "  if (copy_b) impl_->b_copy.resize(static_cast<size_t>(s.k * s.n));\n"
         "  const dnnl::memory::desc a_md(dims{s.m, s.k}, input_type, copy_a ? dims{s.k, 1} : s.trans_a ? dims{1, s.lda} : dims{s.lda, 1});\n"
         "  const dnnl::memory::desc b_md(dims{s.k, s.n}, input_type, copy_b ? dims{s.n, 1} : s.trans_b ? dims{1, s.ldb} : dims{s.ldb, 1});\n"),
        ("  auto& im = *impl_;\n",
         "  auto& im = *impl_;\n"
         "  if (!im.a_copy.empty()) {  // PLANTED: A(i, j) = a[i + j * lda]\n"
         "    const float* src = static_cast<const float*>(a);\n"
         "    for (int64_t j = 0; j < shape_.k; ++j)\n"
         "      for (int64_t i = 0; i < shape_.m; ++i) im.a_copy[static_cast<size_t>(i * shape_.k + j)] = src[i + j * shape_.lda];\n"
         "    a = im.a_copy.data();\n"
         "  }\n"
         "  if (!im.b_copy.empty()) {  // PLANTED: B(p, q) = b[p + q * ldb]\n"
         "    const float* src = static_cast<const float*>(b);\n"
         "    for (int64_t q = 0; q < shape_.n; ++q)\n"
         "      for (int64_t p = 0; p < shape_.k; ++p) im.b_copy[static_cast<size_t>(p * shape_.n + q)] = src[p + q * shape_.ldb];\n"
         "    b = im.b_copy.data();\n"
         "  }\n")]),
    "memory": ("algorithms/algorithm.cpp", [
        ("void Algorithm::finish_setup(MemoryPlan& plan) {",
         "void Algorithm::finish_setup(MemoryPlan& plan) {\n"
         "  plan.add_bytes(\"planted.extra\", MemCategory::activations, plan.total_bytes() / 10);  // PLANTED: 10% more arena\n")]),
}
path, replacements = edits[change]
with open(f"{tree}/{path}") as f:
    text = f.read()
for old, new in replacements:
    if text.count(old) != 1:
        sys.exit(f"prove_regression_check: the '{change}' change no longer applies: {path} does not contain this "
                 f"exactly once (update the plant in scripts/regression/prove_regression_check.sh):\n{old}")
    text = text.replace(old, new)
with open(f"{tree}/{path}", "w") as f:
    f.write(text)
print(f"planted '{change}' in {path}")
PY
}

# One check with the worktree as HEAD; its table and measurements go to $out/NAME.{txt,json}.
check() {
  local name=$1; shift
  local started=$SECONDS rc=0
  /usr/bin/python3 scripts/check_regression.py --head-src "$proof" --json-out "$out/$name.json" ${rounds[@]+"${rounds[@]}"} "$@" \
    >"$out/$name.txt" 2>&1 || rc=$?
  echo "$name: exit $rc in $((SECONDS - started)) s: $(tail -n 1 "$out/$name.txt")"
  echo "$name $rc $((SECONDS - started))" >>"$out/exits.txt"
  if [[ $rc -ge 2 ]]; then
    echo "prove_regression_check: the check could not run ($out/$name.txt):" >&2
    tail -n 20 "$out/$name.txt" >&2
    exit 2
  fi
}

: >"$out/exits.txt"
reset_proof_tree
built=()  # the first check after a change builds; the others reuse the binaries
if wanted clean; then
  for i in $(seq 1 "$clean"); do check "clean-$i" ${built[@]+"${built[@]}"}; built=(--skip-build); done
fi
if wanted slowdown; then
  plant slowdown
  built=()
  # Without callgrind: the busy-wait must be caught by the wall-time metrics alone.
  for i in $(seq 1 "$tries"); do check "slowdown-$i" --skip-callgrind ${built[@]+"${built[@]}"}; built=(--skip-build); done
  reset_proof_tree
fi
if wanted gemm; then plant gemm; check gemm; reset_proof_tree; fi
if wanted memory; then
  plant memory
  check memory
  # The same change judged as on a machine other than the one that wrote the committed numbers: a
  # copy of the baseline file whose environment names another CPU, so memory is compared A/B with
  # the baseline binary's bytes instead of the committed ones.
  foreign=$(mktemp --suffix=.json)
  /usr/bin/python3 - reports/baselines/ci.json "$foreign" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
data["exact"]["environment"]["cpu_model"] = "Intel(R) Xeon(R) Processor (as written by prove_regression_check.sh)"
json.dump(data, open(sys.argv[2], "w"), indent=2)
PY
  check memory-foreign --skip-build --skip-callgrind --baseline-file "$foreign"
  rm -f "$foreign"
  reset_proof_tree
fi
# Leave the tree's binary unplanted, so a later --skip-build check measures unchanged code.
cmake --build "$proof/build/release" --target ffbench -j2 >/dev/null

/usr/bin/python3 - "$out" "$command_line" <<'PY' | tee "$out/summary.md"
import json, os, statistics, sys
out, command_line = sys.argv[1], sys.argv[2]
runs = {}
for line in open(f"{out}/exits.txt"):
    name, rc, seconds = line.split()
    with open(f"{out}/{name}.json") as f:
        runs[name] = dict(json.load(f), exit=int(rc), wall_seconds=int(seconds))
first = next(iter(runs.values()))
print("# Regression-check proof\n")
print(f"`{command_line.strip()}`\n")
print(f"Baseline revision {first['baseline_revision'][:12]}; HEAD is a scratch worktree (build/proof-src) with one planted "
      f"change at a time. Thresholds: wall time regressed when HEAD is more than {100 * first['thresholds']['min_effect']:g}% "
      f"below the baseline's over the rounds' pairs and Wilcoxon signed-rank p < {first['thresholds']['alpha']:g} (an algorithm "
      f"past the effect gets as many rounds again, and all decide); instructions above +{100 * first['thresholds']['instr']:g}%; "
      f"memory above +{100 * first['thresholds']['memory']:g}%; loss beyond ±{first['thresholds']['loss']:g}. "
      f"{first['rounds']} A/B rounds per check.\n")

def group(prefix):
    return {n: r for n, r in runs.items() if n == prefix or n.startswith(prefix + "-")}

clean = group("clean")
if clean:
    alarms = sum(len(r["regressed"]) for r in clean.values())
    print(f"## {len(clean)} clean runs (unchanged code): {alarms} false alarm(s); "
          f"{statistics.median(r['wall_seconds'] for r in clean.values()):.0f} s per run (median)\n")
    changes, unchanged = {}, set()
    for r in clean.values():
        for row in r["rows"]:
            if row["change"] is not None:
                changes.setdefault(row["metric"], []).append(row)
    print("Change HEAD against baseline per metric over the clean runs (roofline rows are diagnostics, not judged):\n")
    print("| metric | min | median | max | smallest p | regressed |")
    print("| --- | --- | --- | --- | --- | --- |")
    for metric, rows in changes.items():
        c = [row["change"] for row in rows]
        if rows[0]["kind"].startswith("exact") and not any(c):
            unchanged.add(metric)
            continue
        ps = [float(row["note"].split("p=")[1].split()[0]) for row in rows if "p=" in row["note"]]
        print(f"| {metric} | {100 * min(c):+.2f}% | {100 * statistics.median(c):+.2f}% | {100 * max(c):+.2f}% | "
              f"{min(ps):.2g} | " if ps else f"| {metric} | {100 * min(c):+.2f}% | {100 * statistics.median(c):+.2f}% | "
              f"{100 * max(c):+.2f}% | - | ", end="")
        print(f"{sum(row['verdict'] == 'REGRESSED' for row in rows)}/{len(rows)} |")
    if unchanged:
        print(f"\n{len(unchanged)} exact metrics (memory, loss) equal to the committed numbers in every clean run.")
    print()

def outcome(title, group_runs, show):
    """One planted change: caught or not per check, the regressed metrics, and the median change of
    the metrics it should move (those starting with `show`) and of any that regressed."""
    if not group_runs:
        return
    caught = sum(r["exit"] == 1 for r in group_runs.values())
    print(f"## {title}: caught {caught} of {len(group_runs)}\n")
    print("| check | exit | regressed metrics (change) |")
    print("| --- | --- | --- |")
    for name, r in group_runs.items():
        rows = {row["metric"]: row for row in r["rows"]}
        flagged = ", ".join(f"{m} ({100 * rows[m]['change']:+.1f}%)" for m in r["regressed"]) or "none"
        print(f"| {name} | {r['exit']} | {flagged} |")
    print()
    seen, regressed = {}, {m for r in group_runs.values() for m in r["regressed"]}
    for r in group_runs.values():
        for row in r["rows"]:
            if (row["metric"].startswith(show) or row["metric"] in regressed) and row["kind"] != "info" \
                    and row["change"] is not None:
                seen.setdefault(row["metric"], []).append(row["change"])
    for metric, values in seen.items():
        print(f"- {metric}: median change {100 * statistics.median(values):+.1f}% over {len(values)} check(s)")
    print()

outcome("Planted 10% step slowdown (busy-wait in softmax_xent_backward)", group("slowdown"), "wall/")
outcome("Planted slower GEMM (transposed operands copied before each product)", group("gemm"), ("wall/", "instr/"))
outcome("Planted 10% more arena memory (extra planned buffer); memory-foreign: the committed numbers "
        "marked as written on another CPU, so memory is compared A/B", group("memory"), "memory/none")

# The verdict: no false alarm, at least 9 in 10 slowdown checks caught, the other changes caught.
failures = []
alarms = sum(len(r["regressed"]) for r in clean.values())
if alarms:
    failures.append(f"{alarms} false alarm(s) in {len(clean)} clean runs")
slow = group("slowdown")
if slow and sum(r["exit"] == 1 for r in slow.values()) < 0.9 * len(slow):
    failures.append(f"the 10% slowdown caught in {sum(r['exit'] == 1 for r in slow.values())} of {len(slow)} checks (at least 90% needed)")
for part in ("gemm", "memory"):
    if any(r["exit"] != 1 for r in group(part).values()):
        failures.append(f"the planted '{part}' change was not caught")
print("**Proof passed.**" if not failures else "**Proof failed:** " + "; ".join(failures) + ".")
sys.exit(1 if failures else 0)
PY
