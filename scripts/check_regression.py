#!/usr/bin/python3
"""Performance-regression check: HEAD against a baseline revision, both built and measured on this
machine in the same run, so the check means the same on any CPU (README.md: "The regression check").

reports/baselines/ci.json names the baseline revision (a commit, with the reason it was chosen) and
holds the committed exact numbers. The check
  1. checks that revision out in a git worktree (build/baseline-src), builds its ffbench there and
     HEAD's in build/release (ccache makes the second tree cheap);
  2. counts instructions under callgrind for both binaries, split into GEMM (everything inside
     ffb::Matmul::run: oneDNN and its JIT code) and the rest; runs the `ci` suite's fixed-seed
     convergence points (both binaries, the deterministic part runs two jobs at a time);
  3. then, with nothing else of ours running, times both binaries interleaved (an algorithm's two
     binaries back to back, which first alternating round by round: A B, B A, ...; the algorithm
     order shuffled each round; every measurement a fresh `ffbench point` process at 1 thread) and
     decides on the rounds' HEAD/baseline ratios: a minimum effect and a Wilcoxon signed-rank test.
Metrics and thresholds:
  wall/<alg>/train_samples_per_s  A/B  regressed when the median over the rounds of HEAD/baseline
  wall/<alg>/gemm_gflops          A/B  < 1 - MIN_EFFECT and the one-sided Wilcoxon signed-rank p on
                                       the rounds' log ratios < ALPHA; an algorithm past MIN_EFFECT
                                       after ROUNDS rounds gets ROUNDS more, all decide (CONFIRM)
  instr/<alg>/gemm, instr/<alg>/other  A/B  callgrind counts (exact): regressed above +INSTR_LIMIT
  memory/<alg>/<category>   committed  arena bytes (exact): regressed above +1%
  loss/<point>              committed  fixed-seed training loss (exact): regressed beyond ±1e-4 rel.
  roofline/<alg> (train GFLOP/s over GEMM GFLOP/s) is printed as a diagnostic only.
Committed numbers from another environment (CPU, oneDNN, compiler) are compared A/B with the
baseline binary's values instead. A baseline revision that cannot be checked out or built fails
the check (exit 2): wall time is never compared with numbers from another machine.

Usage:
  /usr/bin/python3 scripts/check_regression.py            # build both, measure, compare; exit 1 on a regression
  /usr/bin/python3 scripts/check_regression.py --update   # re-measure HEAD's exact numbers into ci.json
  /usr/bin/python3 scripts/check_regression.py --set-baseline REV --reason TEXT   # move the baseline revision
Exit status: 0 nothing regressed, 1 something regressed, 2 the check could not run as asked.
"""
import argparse
import concurrent.futures
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE_FILE = os.path.join(ROOT, "reports", "baselines", "ci.json")
BASELINE_SRC = os.path.join(ROOT, "build", "baseline-src")  # worktree of the baseline revision

# --- What is measured, and the thresholds (README: "The regression check" says how they were chosen).
ROUNDS = 8            # A/B rounds: each round times every algorithm once per binary
MIN_EFFECT = 0.05     # a wall-time metric regresses only if the rounds' median HEAD/baseline is this much below 1 ...
ALPHA = 0.01          # ... and the one-sided Wilcoxon signed-rank test on the rounds' log ratios says p < ALPHA
CONFIRM = True        # an algorithm whose ratio is past MIN_EFFECT gets ROUNDS more rounds; all rounds decide
INSTR_LIMIT = 0.01    # instruction counts (A/B, exact): regressed above +1%
MEMORY_LIMIT = 0.01   # arena bytes against the committed numbers: regressed above +1%
LOSS_LIMIT = 1e-4     # fixed-seed loss against the committed numbers: relative, either way
# The timed point: a fresh process, 1 thread (on a 2-vCPU VM the second thread is the noisy one).
# Only the fields every revision's SuitePoint::from_json requires; both binaries get the same file.
# scope "train": only the training windows and the plain-layout GEMM rate of the step's shapes (no
# inference, no blocked-layout ceiling, no peak FMA): a third of the time. Revisions before it ignore
# the field and measure everything (slower, the same figures).
THROUGHPUT_POINT = {"scope": "train", "experiment": "ab", "measure": "throughput", "options": {}, "dataset": "synthetic",
                    "limit_train": 0, "limit_test": 0, "hidden": [500, 500], "batch": 128, "epochs": 1,
                    "time_budget_s": 0, "steps": 10, "warmup": 3, "repeats": 10, "seed": 1, "threads": 1,
                    "targets": [], "diagnostics": False}
MEMORY_CATEGORIES = ("weights", "grads", "optimizer", "activations", "scratch", "arena_total")
# Callgrind: a small model (valgrind's start-up, not the counted steps, is what costs), 1 thread, oneDNN
# held to AVX2 (valgrind cannot decode AVX-512); CALLGRIND_STEPS steps, the first left out.
CALLGRIND_STEPS = 2
CALLGRIND_TRAIN = ["-l", "128,256,256", "-b", "64", "--limit-train", str(64 * CALLGRIND_STEPS), "--limit-test", "64",
                   "-e", "1", "-t", "1"]
COUNTED_FUNCTION = "ffb::Algorithm::train_step"    # callgrind counts inside this only
GEMM_FUNCTION = "ffb::Matmul::run("                # instructions inside this (inclusive) are "gemm"
CONVERGENCE = ["run", "ci", "--only", "convergence."]  # the ci suite's fixed-seed loss points
# Which environment fields must match for a committed exact number to be compared.
EXACT_NEEDS = {"memory": ["onednn_version", "onednn_isa", "cpu_model"],
               "loss": ["onednn_version", "onednn_isa", "cpu_model", "compiler", "compiler_flags", "hardware_threads"]}
FALLBACK_ALGORITHMS = ["bp", "ff", "ff_symba"]  # only if `ffbench list` cannot be read

RED, BOLD, RESET = ("\033[31m", "\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


class CheckError(Exception):
    """The check cannot run as asked; the message says what to fix."""


def say(text):
    print(f"check_regression: {text}", flush=True)


def loud(text):
    print(f"{RED}{BOLD}check_regression: {text}{RESET}", flush=True)


def run(cmd, cwd=None, env=None, timeout=1800, what=None):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise CheckError(f"{what or ' '.join(cmd)} failed (exit {result.returncode}):\n"
                         f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def git(*args, cwd=ROOT, check=True):
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise CheckError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip() if result.returncode == 0 else None


# --- Statistics -------------------------------------------------------------------------------

def mann_whitney_less(x, y):
    """One-sided p-value of the Mann-Whitney U test for 'x tends to be smaller than y'."""
    try:
        from scipy.stats import mannwhitneyu
        method = "exact" if len(set(x) | set(y)) == len(x) + len(y) else "asymptotic"
        return float(mannwhitneyu(x, y, alternative="less", method=method).pvalue)
    except ImportError:
        return exact_mann_whitney_less(x, y)


def wilcoxon_less(differences):
    """One-sided p-value of the Wilcoxon signed-rank test for 'the differences tend to be negative'."""
    nonzero = [d for d in differences if d != 0]
    if not nonzero:
        return 1.0
    if len({abs(d) for d in nonzero}) == len(nonzero) == len(differences):
        try:
            from scipy.stats import wilcoxon
            return float(wilcoxon(nonzero, alternative="less", method="exact").pvalue)
        except ImportError:
            pass
    return exact_wilcoxon_less(nonzero)


def exact_wilcoxon_less(differences):
    """Exact null distribution of W+ given the ranks of |d| (ties share their mean rank; zeros are
    dropped), no scipy needed: each rank is + or - with probability 1/2."""
    d = [x for x in differences if x != 0]
    order = sorted(range(len(d)), key=lambda i: abs(d[i]))
    doubled_rank = [0] * len(d)  # twice the mean rank, so ties stay whole numbers
    i = 0
    while i < len(d):
        j = i
        while j + 1 < len(d) and abs(d[order[j + 1]]) == abs(d[order[i]]):
            j += 1
        for k in range(i, j + 1):
            doubled_rank[order[k]] = i + j + 2
        i = j + 1
    observed = sum(r for r, x in zip(doubled_rank, d) if x > 0)
    counts = {0: 1}  # ways to reach each doubled W+
    for r in doubled_rank:
        grown = dict(counts)
        for total, ways in counts.items():
            grown[total + r] = grown.get(total + r, 0) + ways
        counts = grown
    return sum(ways for total, ways in counts.items() if total <= observed) / 2 ** len(d)


def exact_mann_whitney_less(x, y):
    """Exact null distribution of U (ties count one half; exact without ties), no scipy needed."""
    n, m = len(x), len(y)
    u = sum((a > b) + 0.5 * (a == b) for a in x for b in y)
    # counts[i][j][k]: orderings of i x-values and j y-values with U == k, built by placing the largest value.
    counts = [[None] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 or j == 0:
                counts[i][j] = [1]
                continue
            with_x = [0] * j + counts[i - 1][j]  # largest is an x: it beats all j y-values
            with_y = counts[i][j - 1]
            size = max(len(with_x), len(with_y))
            counts[i][j] = [(with_x[k] if k < len(with_x) else 0) + (with_y[k] if k < len(with_y) else 0)
                            for k in range(size)]
    dist = counts[n][m]
    return sum(dist[: int(u) + 1]) / sum(dist)


# --- Source trees and builds ------------------------------------------------------------------

def configure_args(src, build):
    args = ["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
            "-DCMAKE_CXX_FLAGS_RELEASE=-O3 -DNDEBUG -march=x86-64-v3", "-DFFBENCH_BUILD_TESTS=OFF",
            "-DFFBENCH_BUILD_BENCH=OFF"]
    if shutil.which("ccache"):
        args.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
    return args


def build_env():
    # Paths under the repository's parent become relative in ccache's hash. Each tree builds in its
    # own <tree>/build/release, so the relative paths, and so the cache entries, are the same.
    return dict(os.environ, CCACHE_BASEDIR=os.path.dirname(ROOT))


def build_tree(src, jobs):
    """Builds the ffbench target of a source tree in <src>/build/release; returns the binary."""
    build = os.path.join(src, "build", "release")
    env = build_env()
    started = time.time()
    if os.path.realpath(src) == os.path.realpath(ROOT):
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
            run(["cmake", "--preset", "release"], cwd=ROOT, env=env, what="configuring HEAD (cmake --preset release)")
        run(["cmake", "--build", "--preset", "release", "--target", "ffbench", f"-j{jobs}"], cwd=ROOT, env=env,
            what="building HEAD's ffbench (cmake --build --preset release --target ffbench)")
    else:
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
            run(configure_args(src, build), env=env, what=f"configuring {src}")
        run(["cmake", "--build", build, "--target", "ffbench", f"-j{jobs}"], env=env, what=f"building ffbench in {src}")
    say(f"built {os.path.relpath(build, ROOT)}/bench/ffbench in {time.time() - started:.0f} s")
    return os.path.join(build, "bench", "ffbench")


def resolve_revision(revision):
    """The full commit hash; fetches history when this clone lacks the commit (shallow CI clones)."""
    def lookup():
        return git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False)
    commit = lookup()
    if commit:
        return commit
    remotes = (git("remote", check=False) or "").split()
    shallow = git("rev-parse", "--is-shallow-repository", check=False) == "true"
    for remote in remotes:
        say(f"baseline revision {revision} is not in this clone; fetching it from '{remote}'")
        git("fetch", "--quiet", remote, revision, check=False)  # servers that allow fetching one commit
        if not lookup() and shallow:
            git("fetch", "--quiet", "--unshallow", remote, check=False)
        commit = lookup()
        if commit:
            return commit
    why = ("the clone is shallow and has no remote to fetch from" if shallow and not remotes else
           "it is not in this clone" + (f" nor in the remote(s) {', '.join(remotes)}" if remotes else " and there is no remote"))
    raise CheckError(f"baseline revision {revision} cannot be checked out: {why}. Fix: fetch the full history "
                     f"(git fetch --unshallow), or move the baseline to a commit you have: "
                     f"scripts/check_regression.py --set-baseline REV --reason TEXT")


def prepare_worktree(path, commit):
    """A detached worktree of `commit` at `path`: reused (and moved to the commit) when present."""
    git("worktree", "prune")  # forget registrations whose folder is gone
    listed = git("worktree", "list", "--porcelain")
    registered = any(line == f"worktree {os.path.realpath(path)}" for line in listed.splitlines())
    if registered and os.path.isdir(path):
        if git("rev-parse", "HEAD", cwd=path, check=False) != commit:
            git("checkout", "--quiet", "--force", "--detach", commit, cwd=path)
        return
    if os.path.exists(path):  # a folder of ours that git no longer knows as a worktree
        shutil.rmtree(path)
    git("worktree", "add", "--quiet", "--force", "--detach", path, commit)


# --- Measurements -----------------------------------------------------------------------------

def list_algorithms(ffbench):
    """The registered algorithms, read from `ffbench list --json` or, before that existed, `ffbench list`."""
    result = subprocess.run([ffbench, "list", "--json"], capture_output=True, text=True)
    if result.returncode == 0:
        try:
            algorithms = json.loads(result.stdout)["algorithms"]
            return [a["name"] if isinstance(a, dict) else a for a in algorithms]
        except (ValueError, KeyError, TypeError):
            pass
    text = run([ffbench, "list"], what=f"{ffbench} list")
    names, inside = [], False
    for line in text.splitlines():
        if line.startswith("Algorithms"):
            inside = True
        elif inside and line and not line.startswith(" "):
            break
        elif inside and re.match(r"^  \S+\s{2,}\S", line):
            names.append(line.split()[0])
    if not names:
        say(f"could not read the algorithms from '{ffbench} list'; using {FALLBACK_ALGORITHMS}")
        return list(FALLBACK_ALGORITHMS)
    return names


def write_point_files(folder, algorithms):
    files = {}
    for algorithm in algorithms:
        point = dict(THROUGHPUT_POINT, id=f"ab.{algorithm}", label=algorithm, algorithm=algorithm)
        files[algorithm] = os.path.join(folder, f"{algorithm}.point.json")
        with open(files[algorithm], "w") as f:
            json.dump(point, f)
    return files


def measure_point(ffbench, point_file, out):
    run([ffbench, "point", "--point-file", point_file, "--out", out], what=f"{ffbench} point {point_file}")
    with open(out) as f:
        result = json.load(f)
    if result.get("status") != "ok":
        raise CheckError(f"{ffbench} point {point_file} ended '{result.get('status')}': {result.get('detail', '')}. "
                         "If this is the baseline's binary, its revision may not read this point file: adjust "
                         "THROUGHPUT_POINT at the top of scripts/check_regression.py, or move the baseline")
    train = result["train"]
    windows = train["samples_per_s"]
    # GEMM speed on the step's shapes through our Matmul (plain_gflops; older revisions had only
    # gflops, measured the same way). Not the ceiling's best-of-layouts gflops: a blocked-layout
    # product outside Matmul::run would hide a slowdown of ours.
    roofline = result["roofline"]
    # The fastest window: work of other processes only ever slows a window down, so the fastest is
    # the least disturbed (the GEMM figure is the fastest of several timings per shape for the same reason).
    return {"train_samples_per_s": max(windows), "train_windows": windows,
            "gemm_gflops": roofline.get("plain_gflops", roofline["gflops"]), "roofline": train.get("roofline_fraction"),
            "memory": {c: result["memory"][c] for c in MEMORY_CATEGORIES if c in result["memory"]}}


def measure_wall(binaries, algorithms, rounds, folder, rng, samples, first_round=0):
    """`rounds` rounds; in each, the algorithms in a shuffled order, the two binaries of an algorithm
    back to back, which one first alternating round by round (A B, B A, ...)."""
    files = write_point_files(folder, algorithms)
    for r in range(first_round, first_round + rounds):
        order = list(algorithms)
        rng.shuffle(order)
        line = []
        for algorithm in order:
            sides = ["head", "baseline"] if (r + algorithms.index(algorithm)) % 2 == 0 else ["baseline", "head"]
            for side in sides:
                value = measure_point(binaries[side], files[algorithm], os.path.join(folder, f"{side}.{algorithm}.json"))
                samples.setdefault(side, {}).setdefault(algorithm, []).append(value)
            h, b = samples["head"][algorithm][-1], samples["baseline"][algorithm][-1]
            line.append(f"{algorithm} {h['train_samples_per_s'] / b['train_samples_per_s']:.3f}")
        say(f"round {r + 1}: HEAD/baseline train samples/s: {', '.join(line)}")
    return samples


def callgrind_counts(ffbench, algorithm):
    """Instructions of one steady-state train_step: inside Matmul::run ('gemm') and the rest ('other')."""
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2", OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory(prefix="ffbench-callgrind-") as tmp:
        out = os.path.join(tmp, "callgrind.out")
        # A profile dump after every step (the pattern differs from the toggle's: callgrind keeps one
        # setting per pattern). The first step generates oneDNN's JIT kernels, 15 to 25 steps' worth
        # of instructions: it is left out.
        run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", f"--toggle-collect={COUNTED_FUNCTION}*",
             f"--dump-after={COUNTED_FUNCTION}(*", ffbench, "train", "-a", algorithm] + CALLGRIND_TRAIN,
            env=env, what=f"callgrind of {ffbench} train -a {algorithm}")
        dumps = sorted((int(name.rsplit(".", 1)[1]), os.path.join(tmp, name)) for name in os.listdir(tmp)
                       if re.fullmatch(r"callgrind\.out\.\d+", name))
        if len(dumps) < 2:
            raise CheckError(f"callgrind wrote {len(dumps)} step profile(s) for {algorithm}, expected "
                             f"{CALLGRIND_STEPS}: was {COUNTED_FUNCTION} renamed? Update COUNTED_FUNCTION at the top of "
                             "scripts/check_regression.py")
        total = gemm = 0
        for _, dump in dumps[1:]:
            with open(dump) as f:
                total += int(re.search(r"^(?:summary|totals):\s+(\d+)", f.read(), re.M).group(1))
            text = run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", dump], what="callgrind_annotate")
            for line in text.splitlines():
                match = re.match(r"^\s*([\d,]+)\s+\([\d.]+%\)\s+(.*)$", line)
                if match and GEMM_FUNCTION in match.group(2):
                    gemm += int(match.group(1).replace(",", ""))
    if gemm == 0:
        raise CheckError(f"callgrind found no {GEMM_FUNCTION}...) under train_step for {algorithm}: was it renamed? "
                         "Update GEMM_FUNCTION at the top of scripts/check_regression.py")
    steps = len(dumps) - 1
    return {"gemm": gemm // steps, "other": (total - gemm) // steps}


def convergence(ffbench):
    """The ci suite's fixed-seed convergence points: (environment, {loss/<point>: loss})."""
    with tempfile.TemporaryDirectory(prefix="ffbench-ci-") as out_dir:
        log = run([ffbench] + CONVERGENCE + ["--out-dir", out_dir], what=f"{ffbench} {' '.join(CONVERGENCE)}")
        run_dir = re.search(r"results in (\S+)", log).group(1)
        with open(os.path.join(run_dir, "manifest.json")) as f:
            manifest = json.load(f)
        losses = {}
        points = os.path.join(run_dir, "points")
        for name in sorted(os.listdir(points)):
            if not name.endswith(".json") or name.endswith(".point.json"):
                continue
            with open(os.path.join(points, name)) as f:
                point = json.load(f)
            if point.get("status") != "ok":
                raise CheckError(f"ci point {point['id']} ended '{point.get('status')}': {point.get('detail', '')}")
            losses[f"loss/{point['id']}"] = point["epochs"][-1]["train_loss"]
    environment = {k: (manifest.get(k).strip() if isinstance(manifest.get(k), str) else manifest.get(k))
                   for k in ("cpu_model", "hardware_threads", "onednn_version", "onednn_isa", "compiler", "compiler_flags")}
    return environment, losses


# --- Comparison -------------------------------------------------------------------------------

class Row:
    def __init__(self, metric, kind, baseline, head, change, verdict, note):
        self.metric, self.kind, self.baseline, self.head = metric, kind, baseline, head
        self.change, self.verdict, self.note = change, verdict, note

    def to_json(self):
        return dict(vars(self))


def wall_rows(samples, algorithms):
    """Each wall-time metric, decided on the rounds' pairs: HEAD's and the baseline's process of one
    round ran back to back, so what slows the machine for a while slows both and cancels in their ratio."""
    rows = []
    for algorithm in algorithms:
        for metric in ("train_samples_per_s", "gemm_gflops"):
            head = [s[metric] for s in samples["head"][algorithm]]
            base = [s[metric] for s in samples["baseline"][algorithm]]
            log_ratios = [math.log(h / b) for h, b in zip(head, base)]
            ratio = math.exp(statistics.median(log_ratios))  # median of the rounds' HEAD/baseline
            p = wilcoxon_less(log_ratios)
            bad = ratio < 1 - MIN_EFFECT and p < ALPHA
            rows.append(Row(f"wall/{algorithm}/{metric}", "wall", statistics.median(base), statistics.median(head),
                            ratio - 1, "REGRESSED" if bad else "ok",
                            f"p={p:.2g} over {len(log_ratios)} rounds (unpaired: medians {statistics.median(head) / statistics.median(base) - 1:+.1%}, "
                            f"Mann-Whitney p={mann_whitney_less(head, base):.2g}); regressed if < -{100 * MIN_EFFECT:g}% and p < {ALPHA:g}"))
        head = [s["roofline"] for s in samples["head"][algorithm] if s["roofline"] is not None]
        base = [s["roofline"] for s in samples["baseline"][algorithm] if s["roofline"] is not None]
        if head and base:
            rows.append(Row(f"roofline/{algorithm}", "info", statistics.median(base), statistics.median(head),
                            statistics.median(head) / statistics.median(base) - 1, "info", "diagnostic, not judged"))
    return rows


def instr_rows(counts, algorithms):
    rows = []
    for algorithm in algorithms:
        for phase in ("gemm", "other"):
            head, base = counts["head"][algorithm][phase], counts["baseline"][algorithm][phase]
            change = (head - base) / base if base else (0.0 if head == base else float("inf"))
            rows.append(Row(f"instr/{algorithm}/{phase}", "instr", base, head, change,
                            "REGRESSED" if change > INSTR_LIMIT else "ok", f"regressed above +{100 * INSTR_LIMIT:g}%"))
    return rows


def exact_rows(committed, head_values, baseline_values, head_env):
    """Each exact metric against the committed number, or A/B against the baseline binary's value
    when the committed numbers come from another environment."""
    rows = []
    committed_env = committed.get("environment", {})
    for name in sorted(set(committed.get("metrics", {})) | set(head_values)):
        family = name.split("/")[0]
        head = head_values.get(name)
        if head is None:
            rows.append(Row(name, "exact", committed["metrics"][name], None, None, "skipped",
                            "not measured now (renamed or removed? run --update)"))
            continue
        differing = [k for k in EXACT_NEEDS[family] if committed_env.get(k) != head_env.get(k)]
        if name in committed.get("metrics", {}) and not differing:
            reference, against = committed["metrics"][name], "committed"
        elif name in baseline_values:
            reference = baseline_values[name]
            against = ("A/B: no committed number (new metric? run --update)" if name not in committed.get("metrics", {})
                       else f"A/B: committed numbers are from another environment ({', '.join(differing)})")
        else:
            why = (f"the committed number is from another environment ({', '.join(differing)})"
                   if name in committed.get("metrics", {}) else "no committed number (run --update)")
            rows.append(Row(name, "exact", committed.get("metrics", {}).get(name), head, None, "skipped",
                            f"{why} and none from the baseline revision"))
            continue
        change = (head - reference) / abs(reference) if reference else (0.0 if head == reference else float("inf"))
        if family == "loss":
            bad, rule = abs(change) > LOSS_LIMIT, f"regressed beyond ±{LOSS_LIMIT:g} relative"
        else:
            bad, rule = change > MEMORY_LIMIT, f"regressed above +{100 * MEMORY_LIMIT:g}%"
        rows.append(Row(name, "exact" if against == "committed" else "exact-ab", reference, head, change,
                        "REGRESSED" if bad else "ok", f"{rule}; {against}"))
    return rows


def print_table(rows):
    width = max((len(r.metric) for r in rows), default=10)

    def fmt(v):
        return "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
    print(f"{'metric':<{width}}  {'baseline':>14}  {'HEAD':>14}  {'change':>8}  verdict")
    for r in rows:
        change = "-" if r.change is None else f"{100 * r.change:+.2f}%"
        verdict = f"{RED}{r.verdict}{RESET}" if r.verdict in ("REGRESSED", "skipped") else r.verdict
        print(f"{r.metric:<{width}}  {fmt(r.baseline):>14}  {fmt(r.head):>14}  {change:>8}  {verdict}  {r.note}")


# --- The check --------------------------------------------------------------------------------

def load_baseline_file(path):
    if not os.path.exists(path):
        raise CheckError(f"no baseline file at {path}: make one with --set-baseline $(git rev-parse HEAD) "
                         "--reason TEXT, then --update")
    with open(path) as f:
        data = json.load(f)
    if not data.get("baseline_revision"):
        raise CheckError(f"{path} has no 'baseline_revision': set one with --set-baseline REV --reason TEXT")
    return data


def write_baseline_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)


def head_tree(args):
    """(source tree, binary or None when it must be built) of the code under test."""
    if args.head_build:
        return None, os.path.join(args.head_build, "bench", "ffbench")
    return (args.head_src or ROOT), None


def exact_values(samples_side):
    values = {}
    for algorithm, measurements in samples_side.items():
        for category in MEMORY_CATEGORIES:
            seen = {m["memory"][category] for m in measurements if category in m["memory"]}
            if len(seen) > 1:
                raise CheckError(f"memory/{algorithm}/{category} differs between runs of the same binary ({sorted(seen)}): "
                                 "the arena plan should be exact")
            if seen:
                values[f"memory/{algorithm}/{category}"] = seen.pop()
    return values


def update(args, data):
    src, ffbench = head_tree(args)
    if ffbench is None:
        ffbench = build_tree(src, args.jobs) if not args.skip_build else os.path.join(src, "build", "release", "bench", "ffbench")
    algorithms = list_algorithms(ffbench)
    with tempfile.TemporaryDirectory(prefix="ffbench-ab-") as folder:
        files = write_point_files(folder, algorithms)
        side = {a: [measure_point(ffbench, files[a], os.path.join(folder, f"{a}.json"))] for a in algorithms}
    environment, losses = convergence(ffbench)
    metrics = dict(exact_values(side), **losses)
    data["exact"] = {"environment": environment, "metrics": metrics,
                     "measured_at": git("rev-parse", "HEAD", cwd=src or ROOT, check=False),
                     "dirty": bool(git("status", "--porcelain", "--untracked-files=no", cwd=src or ROOT, check=False))}
    write_baseline_file(args.baseline_file, data)
    say(f"wrote {len(metrics)} exact numbers to {args.baseline_file}; commit it with a message that says why")
    return 0


def check(args, data):
    started = time.time()
    rng = random.Random(args.seed)
    src, head_bin = head_tree(args)
    revision = data["baseline_revision"]
    report = {"baseline_revision": revision, "reason": data.get("reason"), "seed": args.seed, "rounds": args.rounds,
              "thresholds": {"min_effect": MIN_EFFECT, "alpha": ALPHA, "instr": INSTR_LIMIT, "memory": MEMORY_LIMIT,
                             "loss": LOSS_LIMIT}, "point": THROUGHPUT_POINT}
    # 1. Builds. A baseline that cannot be had fails the check after the exact comparison.
    if head_bin is None:
        head_bin = (os.path.join(src, "build", "release", "bench", "ffbench") if args.skip_build
                    else build_tree(src, args.jobs))
    if not os.path.exists(head_bin):
        raise CheckError(f"{head_bin} not found: build it (cmake --preset release && cmake --build --preset release) "
                         "or drop --skip-build")
    baseline_bin, baseline_problem = None, None
    try:
        commit = resolve_revision(revision)
        report["baseline_commit"] = commit
        if args.skip_build:
            baseline_bin = os.path.join(BASELINE_SRC, "build", "release", "bench", "ffbench")
            if git("rev-parse", "HEAD", cwd=BASELINE_SRC, check=False) != commit or not os.path.exists(baseline_bin):
                raise CheckError(f"--skip-build, but {BASELINE_SRC} is not a built worktree of {commit[:12]}: "
                                 "run once without --skip-build")
        else:
            prepare_worktree(BASELINE_SRC, commit)
            baseline_bin = build_tree(BASELINE_SRC, args.jobs)
    except CheckError as e:
        baseline_problem = str(e)
        loud(f"NO BASELINE: {baseline_problem}")
    binaries = {"head": head_bin, "baseline": baseline_bin}
    head_algorithms = list_algorithms(head_bin)
    algorithms = head_algorithms
    if baseline_bin:
        known = set(list_algorithms(baseline_bin))
        algorithms = [a for a in head_algorithms if a in known]
    new_algorithms = [a for a in head_algorithms if a not in algorithms]

    # 2. The deterministic part: callgrind and the fixed-seed loss, two jobs at a time.
    sides = ["head"] + (["baseline"] if baseline_bin else [])
    counts, convergence_result = {}, {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {}
        for side in sides:
            futures[pool.submit(convergence, binaries[side])] = ("loss", side, None)
            if not args.skip_callgrind:
                for algorithm in algorithms:
                    futures[pool.submit(callgrind_counts, binaries[side], algorithm)] = ("instr", side, algorithm)
        for future in concurrent.futures.as_completed(futures):
            what, side, algorithm = futures[future]
            if what == "loss":
                convergence_result[side] = future.result()
            else:
                counts.setdefault(side, {})[algorithm] = future.result()
    say(f"callgrind and convergence done ({time.time() - started:.0f} s so far)")

    # 3. Wall time, A/B, interleaved, nothing else of ours running.
    samples = {}
    with tempfile.TemporaryDirectory(prefix="ffbench-ab-") as folder:
        if baseline_bin:
            measure_wall(binaries, algorithms, args.rounds, folder, rng, samples)
            # Past the effect threshold, p-value or not: more rounds, then all of them decide. This
            # catches a real slowdown whose first rounds were too noisy for the test, and keeps one
            # unlucky stretch of rounds from failing the check on its own.
            flagged = sorted({r.metric.split("/")[1] for r in wall_rows(samples, algorithms)
                              if r.kind == "wall" and r.change < -MIN_EFFECT})
            if flagged and CONFIRM and not args.no_confirm:
                say(f"more than {100 * MIN_EFFECT:g}% slower: {', '.join(flagged)}; measuring {args.rounds} more rounds "
                    "of them; all rounds decide")
                measure_wall(binaries, flagged, args.rounds, folder, rng, samples, first_round=args.rounds)
                # The other algorithms keep their rounds; the flagged ones now have twice as many.
        if new_algorithms or not baseline_bin:
            # HEAD's memory for algorithms the A/B did not time (new ones, or all without a baseline).
            files = write_point_files(folder, new_algorithms if baseline_bin else head_algorithms)
            for algorithm, file in files.items():
                samples.setdefault("head", {})[algorithm] = [measure_point(head_bin, file, os.path.join(folder, "x.json"))]

    # 4. Compare.
    rows = []
    if baseline_bin:
        rows += wall_rows(samples, algorithms)
        if not args.skip_callgrind:
            rows += instr_rows(counts, algorithms)
    head_env, head_losses = convergence_result["head"]
    base_values = {}
    if baseline_bin:
        base_values = dict(exact_values(samples["baseline"]), **convergence_result["baseline"][1])
    rows += exact_rows(data.get("exact", {}), dict(exact_values(samples["head"]), **head_losses), base_values,
                       head_env)
    print_table(rows)
    regressed = [r.metric for r in rows if r.verdict == "REGRESSED"]
    skipped = [r.metric for r in rows if r.verdict == "skipped"]
    not_compared = []
    if not baseline_bin:
        not_compared.append("wall time and instruction counts (no baseline binary: see the red line above)")
    else:
        if args.skip_callgrind:
            not_compared.append("instruction counts (--skip-callgrind)")
        for algorithm in new_algorithms:
            not_compared.append(f"{algorithm} A/B (not in the baseline revision)")
    report.update(rows=[r.to_json() for r in rows], samples=samples, instructions=counts, algorithms=algorithms,
                  head_environment=head_env, regressed=regressed, skipped=skipped, not_compared=not_compared,
                  seconds=time.time() - started)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=2)
    n_wall = sum(r.kind == "wall" for r in rows)
    n_instr = sum(r.kind == "instr" for r in rows)
    n_exact = sum(r.kind == "exact" for r in rows)
    n_exact_ab = sum(r.kind == "exact-ab" for r in rows)
    missing = not_compared + [f"{len(skipped)} skipped ({', '.join(skipped[:4])}{', ...' if len(skipped) > 4 else ''})"] * bool(skipped)
    summary = (f"regression check: {'FAILED, the baseline revision could not be checked out or built: ' if not baseline_bin else ''}"
               f"{n_wall + n_instr + n_exact_ab} metrics compared A/B against {revision[:12]} "
               f"({n_wall} wall-time, {n_instr} instruction{f', {n_exact_ab} exact' if n_exact_ab else ''}), "
               f"{n_exact} exact against committed numbers; {len(regressed)} regressed; "
               f"{'not compared: ' + '; '.join(missing) if missing else 'nothing skipped'} "
               f"({time.time() - started:.0f} s)")
    if not baseline_bin:
        print(f"{RED}{BOLD}{summary}{RESET}")
        return 2
    print(f"{RED}{summary}{RESET}" if regressed or missing else summary)
    return 1 if regressed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true",
                        help="measure HEAD's exact numbers (memory, loss) and write them into the baseline file")
    parser.add_argument("--set-baseline", metavar="REV", help="record REV (resolved to its commit) as the baseline revision")
    parser.add_argument("--reason", help="with --set-baseline: why this revision is the baseline (recorded in the file)")
    parser.add_argument("--baseline-file", default=BASELINE_FILE, help="default: reports/baselines/ci.json")
    parser.add_argument("--head-src", metavar="DIR",
                        help="measure this source tree as HEAD (built in DIR/build/release) instead of the repository")
    parser.add_argument("--head-build", metavar="DIR", help="measure DIR/bench/ffbench as HEAD, already built")
    parser.add_argument("--skip-build", action="store_true",
                        help="use the binaries as they are (HEAD's build/release and build/baseline-src's)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"A/B rounds (default {ROUNDS})")
    parser.add_argument("--no-confirm", action="store_true", help="decide on the first rounds, no confirmation rounds")
    parser.add_argument("--seed", type=int, default=None, help="seed of the measurement order (default: random, printed)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel build and callgrind jobs (default 2)")
    parser.add_argument("--skip-callgrind", action="store_true", help="leave out the instruction counts")
    parser.add_argument("--json-out", metavar="FILE", help="write every measurement, row and verdict here")
    args = parser.parse_args()
    smallest_p = 0.5 ** args.rounds  # HEAD slower in every round
    if smallest_p >= ALPHA:
        parser.error(f"--rounds {args.rounds} is too few: the smallest possible p-value is {smallest_p:.2g}, "
                     f"not below ALPHA = {ALPHA:g}, so nothing could be caught (use 7 or more)")
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    try:
        if args.set_baseline:
            if not args.reason:
                parser.error("--set-baseline needs --reason TEXT (why this revision is the baseline)")
            data = {}
            if os.path.exists(args.baseline_file):
                with open(args.baseline_file) as f:
                    data = {k: v for k, v in json.load(f).items() if k == "exact"}  # older formats are dropped
            data["baseline_revision"] = resolve_revision(args.set_baseline)
            data["reason"] = args.reason
            write_baseline_file(args.baseline_file, data)
            say(f"baseline revision is now {data['baseline_revision'][:12]} ({args.reason})")
            return update(args, data) if args.update else 0
        data = load_baseline_file(args.baseline_file)
        if args.update:
            return update(args, data)
        if not args.skip_callgrind and not (shutil.which("valgrind") and shutil.which("callgrind_annotate")):
            raise CheckError("valgrind is missing (apt-get install valgrind), or pass --skip-callgrind")
        say(f"HEAD against baseline revision {data['baseline_revision'][:12]} ({data.get('reason', 'no reason given')}); "
            f"order seed {args.seed}")
        return check(args, data)
    except CheckError as e:
        loud(str(e))
        return 2


if __name__ == "__main__":
    sys.exit(main())
