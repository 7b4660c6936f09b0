#!/usr/bin/python3
"""Performance-regression check: HEAD against a baseline revision, both built and measured on this
machine in the same run, so the check means the same on any CPU (bench/README.md: "The regression check").

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
  instr/<alg>/gemm, instr/<alg>/other  A/B  callgrind counts without glibc's allocator (exact): regressed above +INSTR_LIMIT
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
import os
import random
import shutil
import sys
import tempfile
import time

# The check's parts are the package scripts/regression/ (Python puts this file's folder on its path).
from regression.common import (ALPHA, BASELINE_FILE, BASELINE_SRC, BOLD, CONFIRM, INSTR_LIMIT, LOSS_LIMIT, MEMORY_CATEGORIES,
                               MEMORY_LIMIT, MIN_EFFECT, RED, RESET, ROOT, ROUNDS, THROUGHPUT_POINT, CheckError, build_tree,
                               git, loud, prepare_worktree, resolve_revision, say)
from regression.measure import (callgrind_counts, convergence, exact_rows, instr_rows, list_algorithms, measure_point,
                                measure_wall, print_table, wall_rows, write_point_files)


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
                     # Dirty: code differs from the commit. The baseline file itself does not count:
                     # --set-baseline has just written it.
                     "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".",
                                       f":!{os.path.relpath(os.path.abspath(args.baseline_file), src or ROOT)}",
                                       cwd=src or ROOT, check=False))}
    write_baseline_file(args.baseline_file, data)
    say(f"wrote {len(metrics)} exact numbers to {args.baseline_file}; commit it with a message that says why")
    return 0


def check(args, data):
    started = time.time()
    revision = data["baseline_revision"]
    report = {"baseline_revision": revision, "reason": data.get("reason"), "seed": args.seed, "rounds": args.rounds,
              "thresholds": {"min_effect": MIN_EFFECT, "alpha": ALPHA, "instr": INSTR_LIMIT, "memory": MEMORY_LIMIT,
                             "loss": LOSS_LIMIT}, "point": THROUGHPUT_POINT}
    # 1. Builds. A baseline that cannot be had fails the check after the exact comparison.
    binaries = build_binaries(args, revision, report)
    head_algorithms = list_algorithms(binaries["head"])
    algorithms = head_algorithms
    if binaries["baseline"]:
        known = set(list_algorithms(binaries["baseline"]))
        algorithms = [a for a in head_algorithms if a in known]
    new_algorithms = [a for a in head_algorithms if a not in algorithms]
    # 2. The deterministic part: callgrind and the fixed-seed loss, two jobs at a time.
    counts, convergence_result = deterministic_part(args, binaries, algorithms)
    say(f"callgrind and convergence done ({time.time() - started:.0f} s so far)")
    # 3. Wall time, A/B, interleaved, nothing else of ours running.
    samples = wall_time_part(args, binaries, algorithms, new_algorithms, head_algorithms)
    # 4. Compare.
    rows = compare(args, data, binaries, algorithms, samples, counts, convergence_result)
    print_table(rows)
    regressed = [r.metric for r in rows if r.verdict == "REGRESSED"]
    skipped = [r.metric for r in rows if r.verdict == "skipped"]
    not_compared = []
    if not binaries["baseline"]:
        not_compared.append("wall time and instruction counts (no baseline binary: see the red line above)")
    else:
        if args.skip_callgrind:
            not_compared.append("instruction counts (--skip-callgrind)")
        for algorithm in new_algorithms:
            not_compared.append(f"{algorithm} A/B (not in the baseline revision)")
    report.update(rows=[r.to_json() for r in rows], samples=samples, instructions=counts, algorithms=algorithms,
                  head_environment=convergence_result["head"][0], regressed=regressed, skipped=skipped,
                  not_compared=not_compared, seconds=time.time() - started)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=2)
    return summarize(rows, revision, binaries["baseline"], regressed, skipped, not_compared, started)


def build_binaries(args, revision, report):
    """{"head": HEAD's ffbench, "baseline": the baseline revision's, None when it cannot be checked out
    or built (said in red; the check then fails after the exact comparison)}."""
    src, head_bin = head_tree(args)
    if head_bin is None:
        head_bin = (os.path.join(src, "build", "release", "bench", "ffbench") if args.skip_build
                    else build_tree(src, args.jobs))
    if not os.path.exists(head_bin):
        raise CheckError(f"{head_bin} not found: build it (cmake --preset release && cmake --build --preset release) "
                         "or drop --skip-build")
    baseline_bin = None
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
        baseline_bin = None
        loud(f"NO BASELINE: {e}")
    return {"head": head_bin, "baseline": baseline_bin}


def deterministic_part(args, binaries, algorithms):
    """Instruction counts per side and algorithm, and each side's (environment, fixed-seed losses)."""
    sides = ["head"] + (["baseline"] if binaries["baseline"] else [])
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
    return counts, convergence_result


def wall_time_part(args, binaries, algorithms, new_algorithms, head_algorithms):
    """side -> algorithm -> the measured points: the A/B rounds (and the confirmation rounds), and HEAD's
    memory for the algorithms the A/B did not time."""
    rng = random.Random(args.seed)
    samples = {}
    with tempfile.TemporaryDirectory(prefix="ffbench-ab-") as folder:
        if binaries["baseline"]:
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
        if new_algorithms or not binaries["baseline"]:
            # HEAD's memory for algorithms the A/B did not time (new ones, or all without a baseline).
            files = write_point_files(folder, new_algorithms if binaries["baseline"] else head_algorithms)
            for algorithm, file in files.items():
                samples.setdefault("head", {})[algorithm] = [measure_point(binaries["head"], file, os.path.join(folder, "x.json"))]
    return samples


def compare(args, data, binaries, algorithms, samples, counts, convergence_result):
    """Every row: wall time and instructions A/B (with a baseline), the exact numbers against the committed ones."""
    rows = []
    if binaries["baseline"]:
        rows += wall_rows(samples, algorithms)
        if not args.skip_callgrind:
            rows += instr_rows(counts, algorithms)
    head_env, head_losses = convergence_result["head"]
    base_values = {}
    if binaries["baseline"]:
        base_values = dict(exact_values(samples["baseline"]), **convergence_result["baseline"][1])
    rows += exact_rows(data.get("exact", {}), dict(exact_values(samples["head"]), **head_losses), base_values,
                       head_env)
    return rows


def summarize(rows, revision, baseline_bin, regressed, skipped, not_compared, started):
    """Prints the summary line; the exit status: 2 without a baseline, 1 regressed, else 0."""
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
