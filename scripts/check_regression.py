#!/usr/bin/python3
"""Performance-regression check: measure the `ci` figures and compare them with the committed baseline.

Metrics, chosen because they hold still on shared 2-vCPU VMs (README: "The regression check"):
  memory      arena bytes per category and in total, per algorithm (exact; threshold +1%)
  instr       instructions in train_step under valgrind's callgrind, single thread, oneDNN pinned to
              AVX2 (deterministic; threshold +5%)
  roofline    train throughput as a fraction of the GEMM roofline measured in the same process,
              median of the windows; past its threshold it is measured twice more and the median of
              the three counts (threshold -12%)
  loss        mean training loss after a fixed number of steps at a fixed seed (threshold 1e-4 relative)
A baseline records its environment; a metric whose environment differs (CPU, toolchain, oneDNN)
is reported as not comparable instead of failing.

Usage:
  /usr/bin/python3 scripts/check_regression.py              # measure and compare; exit 1 on a regression
  /usr/bin/python3 scripts/check_regression.py --update     # measure and write the baseline
Options: --ffbench PATH (default build/release/bench/ffbench), --baseline PATH, --json OUT,
         --skip-callgrind (when valgrind is missing), --repeats N (--update: the baseline's wall-time
         metrics are the median of N measurements; default 5)
Self-test: FFBENCH_INJECT_SLOWDOWN=0.25 or FFBENCH_INJECT_MEMORY=0.10 make every algorithm do real
extra work or hold extra memory; scripts/prove_regression_check.sh uses them.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THRESHOLDS = {"memory": 0.01, "instr": 0.05, "roofline": 0.12, "loss": 1e-4}
# Small input size: the synthetic teacher's calibration, outside the counted region, is what makes
# valgrind slow; the counted train_step is the same kind of work either way.
CALLGRIND_MODEL = ["-l", "128,256,256", "-b", "64", "--limit-train", "256", "--limit-test", "64", "-e", "1", "-t", "1"]
# A wall-time metric past its threshold is measured again this many times; the median counts, so a
# neighbour's burst during one measurement does not fail the check.
CONFIRMATIONS = 2


def run(cmd, env=None, timeout=1200):
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if result.returncode != 0:
        sys.exit(f"check_regression: '{' '.join(cmd)}' failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def measure_suite(ffbench, only=None):
    out_dir = tempfile.mkdtemp(prefix="ffbench-ci-")
    try:
        log = run([ffbench, "run", "ci", "--out-dir", out_dir] + (["--only", only] if only else []))
        match = re.search(r"results in (\S+)", log)
        run_dir = match.group(1)
        with open(os.path.join(run_dir, "manifest.json")) as f:
            manifest = json.load(f)
        metrics = {}
        points_dir = os.path.join(run_dir, "points")
        for name in sorted(os.listdir(points_dir)):
            if not name.endswith(".json") or name.endswith(".point.json") or (only and not name.startswith(only)):
                continue
            with open(os.path.join(points_dir, name)) as f:
                point = json.load(f)
            if point.get("status") != "ok":
                sys.exit(f"check_regression: ci point {point['id']} ended '{point.get('status')}': {point.get('detail', '')}")
            label = point["id"]
            if point["point"]["measure"] == "throughput":
                for category in ("weights", "grads", "optimizer", "activations", "scratch", "arena_total"):
                    metrics[f"memory/{label}/{category}"] = point["memory"][category]
                fractions = [r * point["flops_per_sample"]["train"] * 1e-9 / point["roofline"]["gflops"]
                             for r in point["train"]["samples_per_s"]]
                metrics[f"roofline/{label}"] = statistics.median(fractions)
            else:
                metrics[f"loss/{label}"] = point["epochs"][-1]["train_loss"]
        return manifest, metrics
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def measure_callgrind(ffbench):
    metrics = {}
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2", OMP_NUM_THREADS="1")
    for algorithm in ("bp", "ff", "ff_symba"):
        with tempfile.TemporaryDirectory(prefix="ffbench-callgrind-") as tmp:
            out = os.path.join(tmp, "callgrind.out")
            run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--toggle-collect=ffb::Algorithm::train_step*",
                 ffbench, "train", "-a", algorithm] + CALLGRIND_MODEL, env=env)
            with open(out) as f:
                text = f.read()
            totals = re.search(r"^(?:totals|summary):\s+(\d+)", text, re.M)
            metrics[f"instr/{algorithm}/train_step"] = int(totals.group(1))
    return metrics


def environment(manifest):
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip() if shutil.which("valgrind") else "none"
    return {"cpu_model": manifest["cpu_model"], "hardware_threads": manifest["hardware_threads"],
            "onednn_version": manifest["onednn_version"], "onednn_isa": manifest["onednn_isa"],
            "compiler": manifest["compiler"], "compiler_flags": manifest["compiler_flags"].strip(), "valgrind": valgrind}


# Which environment fields must match for a metric family to compare.
NEEDS = {"memory": ["onednn_version"], "instr": ["compiler", "compiler_flags", "onednn_version", "valgrind"],
         "roofline": ["cpu_model", "hardware_threads", "onednn_version"],
         "loss": ["compiler", "compiler_flags", "onednn_version", "onednn_isa", "hardware_threads"]}


def compare(baseline, current, current_env):
    rows, regressions = [], 0
    for name, base in sorted(baseline["metrics"].items()):
        family = name.split("/")[0]
        value = current["metrics"].get(name)
        differing = [k for k in NEEDS[family] if baseline["environment"].get(k) != current_env.get(k)]
        if family == "memory" and name.endswith("/scratch"):
            differing += [k for k in ("onednn_isa",) if baseline["environment"].get(k) != current_env.get(k)]
        if value is None:
            rows.append((name, base, None, None, "missing", "not measured this time"))
            continue
        if differing:
            rows.append((name, base, value, None, "n/a", "not comparable: " + ", ".join(
                f"{k} {baseline['environment'].get(k)!r} -> {current_env.get(k)!r}" for k in differing)))
            continue
        change = (value - base) / base if base else (0.0 if value == base else float("inf"))
        limit = THRESHOLDS[family]
        if family == "roofline":
            bad = change < -limit
        elif family == "loss":
            bad = abs(change) > limit
        else:
            bad = change > limit
        regressions += bad
        rows.append((name, base, value, change, "REGRESSED" if bad else "ok",
                     f"threshold {'-' if family == 'roofline' else '+' if family != 'loss' else '±'}{100 * limit:g}%"))
    return rows, regressions


def print_table(rows):
    width = max(len(r[0]) for r in rows) if rows else 10
    print(f"{'metric':<{width}}  {'baseline':>14}  {'current':>14}  {'change':>8}  verdict")
    for name, base, value, change, verdict, note in rows:
        fmt = (lambda v: "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v)))
        ch = "-" if change is None else f"{100 * change:+.1f}%"
        print(f"{name:<{width}}  {fmt(base):>14}  {fmt(value):>14}  {ch:>8}  {verdict}  {note}")


def remeasure_wall_time(ffbench, current, times, what):
    """Measures the throughput points `times` more times; each wall-time metric becomes the median."""
    samples = {name: [value] for name, value in current["metrics"].items() if name.startswith("roofline/")}
    for repeat in range(times):
        print(f"check_regression: {what} {repeat + 2} of {times + 1}", flush=True)
        _, again = measure_suite(ffbench, only="throughput.")
        for name in samples:
            if name in again:
                samples[name].append(again[name])
    for name, values in samples.items():
        current["metrics"][name] = statistics.median(values)
    current["roofline_samples"] = samples


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="write the baseline instead of comparing")
    parser.add_argument("--ffbench", default=os.path.join(ROOT, "build", "release", "bench", "ffbench"))
    parser.add_argument("--baseline", default=os.path.join(ROOT, "reports", "baselines", "ci.json"))
    parser.add_argument("--json", help="also write the measured metrics and verdicts here")
    parser.add_argument("--skip-callgrind", action="store_true", help="leave out the instruction counts")
    parser.add_argument("--repeats", type=int, default=5,
                        help="--update: measure the throughput points this many times; the baseline keeps each "
                             "wall-time metric's median (default 5)")
    args = parser.parse_args()
    if args.repeats < 1:
        sys.exit("check_regression: --repeats must be at least 1")
    if not os.path.exists(args.ffbench):
        sys.exit(f"check_regression: {args.ffbench} not found; build it: cmake --preset release && cmake --build --preset release")
    manifest, metrics = measure_suite(args.ffbench)
    if not args.skip_callgrind:
        if not shutil.which("valgrind"):
            sys.exit("check_regression: valgrind is missing (apt-get install valgrind) or pass --skip-callgrind")
        metrics.update(measure_callgrind(args.ffbench))
    env = environment(manifest)
    current = {"environment": env, "metrics": metrics, "revision": manifest["revision"], "dirty": manifest["dirty"],
               "thresholds": THRESHOLDS}
    if args.update:
        # One measurement of a wall-time metric can sit high or low; the baseline is the median of several.
        remeasure_wall_time(args.ffbench, current, args.repeats - 1, "baseline measurement")
        os.makedirs(os.path.dirname(args.baseline), exist_ok=True)
        with open(args.baseline + ".tmp", "w") as f:
            json.dump(current, f, indent=2, sort_keys=True)
        os.replace(args.baseline + ".tmp", args.baseline)
        print(f"check_regression: wrote baseline {args.baseline} ({len(metrics)} metrics) at revision {manifest['revision'][:12]}")
        return 0
    if not os.path.exists(args.baseline):
        sys.exit(f"check_regression: no baseline at {args.baseline}; make one with --update")
    with open(args.baseline) as f:
        baseline = json.load(f)
    rows, regressions = compare(baseline, current, env)
    flagged = [r[0] for r in rows if r[4] == "REGRESSED" and r[0].startswith("roofline/")]
    if flagged:
        print(f"check_regression: {len(flagged)} wall-time metric(s) past threshold; measuring the throughput points "
              f"{CONFIRMATIONS} more times and comparing the median of {CONFIRMATIONS + 1}")
        remeasure_wall_time(args.ffbench, current, CONFIRMATIONS, "confirmation")
        rows, regressions = compare(baseline, current, env)
    print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"current": current, "rows": rows, "regressions": regressions}, f, indent=2)
    comparable = sum(1 for r in rows if r[4] in ("ok", "REGRESSED"))
    if comparable == 0:
        print("check_regression: nothing comparable: this machine or toolchain differs from the baseline's "
              f"({baseline['environment']}); make a baseline here with --update")
        return 0
    print(f"check_regression: {regressions} regressed, {comparable - regressions} ok, "
          f"{len(rows) - comparable} not comparable")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
