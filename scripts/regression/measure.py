"""The regression check's measurements (points, wall-time rounds, callgrind, the fixed-seed loss) and
comparison rows (scripts/check_regression.py)."""
import json
import math
import os
import re
import statistics
import subprocess
import tempfile

from regression.common import (ALPHA, CALLGRIND_POINT, CALLGRIND_STEPS, CONVERGENCE, COUNTED_FUNCTION, EXACT_NEEDS,
                               FALLBACK_ALGORITHMS, GEMM_FUNCTION, INSTR_LIMIT, LOSS_LIMIT, MEMORY_CATEGORIES, MEMORY_LIMIT,
                               MIN_EFFECT, RED, RESET, THROUGHPUT_POINT, CheckError, mann_whitney_less, run, say,
                               wilcoxon_less)
from reporting.status import Status


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
    if result.get("status") != Status.OK:
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


# glibc's allocator entry points: their inclusive instructions are the heap's bookkeeping, whose work
# depends on the heap's state (what was allocated before, where), not on the step's code.
ALLOCATOR_FUNCTIONS = ("malloc", "free", "calloc", "realloc", "memalign", "posix_memalign", "aligned_alloc",
                       "valloc", "pvalloc")
ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)$")


def annotate_inclusive(dump):
    """(total, [(inclusive instructions, function description)]) of one callgrind dump."""
    with open(dump) as f:
        total = int(re.search(r"^(?:summary|totals):\s+(\d+)", f.read(), re.M).group(1))
    text = run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", dump], what="callgrind_annotate")
    rows = []
    for line in text.splitlines():
        match = ANNOTATE_LINE.match(line)
        if match:
            rows.append((int(match.group(1).replace(",", "")), match.group(2)))
    return total, rows


def allocator_instructions(rows):
    """The inclusive instructions of libc's allocator entry points (they never call one another)."""
    count = 0
    for instructions, name in rows:
        function = re.search(r":([A-Za-z_]+) \[", name)
        if function and function.group(1) in ALLOCATOR_FUNCTIONS and "libc.so" in name:
            count += instructions
    return count


def callgrind_profiles(ffbench, point_file, toggle, out, env, algorithm):
    """One callgrind run of the point, collecting inside `toggle`, a dump after every train_step; the
    dumps' paths, the first left out (it generates oneDNN's JIT kernels, 15 to 25 steps' worth)."""
    run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", f"--toggle-collect={toggle}*",
         f"--dump-after={COUNTED_FUNCTION}(*", ffbench, "point", "--point-file", point_file, "--out",
         out + ".result.json"],
        env=env, what=f"callgrind of {ffbench} point (scope 'steps') for {algorithm}")
    folder, base = os.path.split(out)
    dumps = sorted((int(name.rsplit(".", 1)[1]), os.path.join(folder, name)) for name in os.listdir(folder)
                   if re.fullmatch(re.escape(base) + r"\.\d+", name))
    if len(dumps) < 2:
        raise CheckError(f"callgrind wrote {len(dumps)} step profile(s) for {algorithm}, expected "
                         f"{CALLGRIND_STEPS}: was {COUNTED_FUNCTION} renamed? Update COUNTED_FUNCTION at the top of "
                         "scripts/check_regression.py")
    return [path for _, path in dumps[1:]]


def callgrind_counts(ffbench, algorithm):
    """Instructions of one steady-state train_step: inside Matmul::run ('gemm') and the rest ('other'),
    each without glibc's allocator, whose instructions are counted apart ('alloc', all of the step).

    The allocator runs only inside Matmul::run (oneDNN's execute bookkeeping): the contract test
    "train_step and prediction allocate nothing" counts every allocation outside oneDNN's calls at the
    C allocator and fails on one. So 'gemm' is Matmul::run's inclusive count less the allocator's and
    'other' the rest of the step, from one callgrind run. (Until the kernels stopped entering parallel
    regions that run on one thread, libgomp allocated a team per region outside Matmul::run too, and a
    second run collecting only inside Matmul::run split the allocator's count: measured equal to the
    whole step's for bp, ff and pepita at 00ebed5, 8784 / 9622 / 12444 per step.) Two builds of
    identical code gave `other` up to 1.6 % apart with the allocator in, and the same count without it
    (the heap's state differs between builds, the step's code not)."""
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2", OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory(prefix="ffbench-callgrind-") as tmp:
        point_file = os.path.join(tmp, "point.json")
        with open(point_file, "w") as f:
            json.dump(dict(CALLGRIND_POINT, id=f"callgrind.{algorithm}", label=algorithm, algorithm=algorithm), f)
        total = gemm = alloc = 0
        steps = callgrind_profiles(ffbench, point_file, COUNTED_FUNCTION, os.path.join(tmp, "step.out"), env, algorithm)
        for dump in steps:
            step_total, rows = annotate_inclusive(dump)
            total += step_total
            gemm += sum(n for n, name in rows if GEMM_FUNCTION in name)
            alloc += allocator_instructions(rows)
        if gemm == 0:
            raise CheckError(f"callgrind found no {GEMM_FUNCTION}...) under train_step for {algorithm}: was it renamed? "
                             "Update GEMM_FUNCTION at the top of scripts/check_regression.py")
    total, gemm, alloc = total // len(steps), gemm // len(steps), alloc // len(steps)
    return {"gemm": gemm - alloc, "other": total - gemm, "alloc": alloc}


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
            if point.get("status") != Status.OK:
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
                            "REGRESSED" if change > INSTR_LIMIT else "ok",
                            f"regressed above +{100 * INSTR_LIMIT:g}% (allocator excluded)"))
        head, base = counts["head"][algorithm].get("alloc"), counts["baseline"][algorithm].get("alloc")
        if head is not None and base is not None:
            rows.append(Row(f"instr/{algorithm}/alloc", "info", base, head, (head - base) / base if base else 0.0, "info",
                            "glibc's allocator inside the step (depends on the heap's state): diagnostic, not judged"))
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
