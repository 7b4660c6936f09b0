"""The regression check's constants, helpers, statistics and builds (scripts/check_regression.py)."""
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASELINE_FILE = os.path.join(ROOT, "reports", "baselines", "ci.json")
BASELINE_SRC = os.path.join(ROOT, "build", "baseline-src")  # worktree of the baseline revision

# --- What is measured, and the thresholds (bench/README.md: "The regression check" says how they were chosen).
ROUNDS = 8            # A/B rounds: each round times every algorithm once per binary
MIN_EFFECT = 0.05     # a wall-time metric regresses only if the rounds' median HEAD/baseline is this much below 1 ...
ALPHA = 0.01          # ... and the one-sided Wilcoxon signed-rank test on the rounds' log ratios says p < ALPHA
CONFIRM = True        # an algorithm whose ratio is past MIN_EFFECT gets ROUNDS more rounds; all rounds decide
# Instruction counts inside the GEMMs and outside them (A/B, exact): regressed above +1%. Both leave
# out glibc's allocator, whose count follows the heap's state: with it in, two builds of identical
# code were 1.64 % apart outside the GEMMs; without it, 0 (bench/README.md 'The regression check').
INSTR_LIMIT = 0.01
MEMORY_LIMIT = 0.01   # arena bytes against the committed numbers: regressed above +1%
LOSS_LIMIT = 1e-4     # fixed-seed loss against the committed numbers: relative, either way
# The timed point: a fresh process, 1 thread (on a 2-vCPU VM the second thread is the noisy one), 6
# windows of 10 steps (10 until 2026-11-29: the rounds were 7 of CI's 20 minutes on a Zen 1 VM).
# Only the fields every revision's SuitePoint::from_json requires; both binaries get the same file.
# scope "train": only the training windows and the plain-layout GEMM rate of the step's shapes (no
# inference, no blocked-layout ceiling, no peak FMA): a third of the time. Revisions before it ignore
# the field and measure everything (slower, the same figures).
THROUGHPUT_POINT = {"scope": "train", "experiment": "ab", "measure": "throughput", "options": {}, "dataset": "synthetic",
                    "limit_train": 0, "limit_test": 0, "hidden": [500, 500], "batch": 128, "epochs": 1,
                    "time_budget_s": 0, "steps": 10, "warmup": 3, "repeats": 6, "seed": 1, "threads": 1,
                    "targets": [], "diagnostics": False}
MEMORY_CATEGORIES = ("weights", "grads", "optimizer", "activations", "scratch", "arena_total")
# Callgrind: a small model, 1 thread, oneDNN held to AVX2 (valgrind cannot decode AVX-512), on a
# point of scope "steps": random inputs (no dataset: making the synthetic task's teacher was 60 % of
# the instructions and most of the 12 s each run took under valgrind, whose FMA is slow) and no timed
# GEMM ceiling. The point runs depth + 1 steps, then CALLGRIND_STEPS; the first step (oneDNN's JIT
# kernels) is left out and the others averaged.
CALLGRIND_STEPS = 2
# Valgrind emulates FMA slowly, so a run costs about 4.5 s plus a time proportional to the model's
# FLOPs: ff took 19 s on 784-256-256 at batch 64, 7.8 s on 784-64-64 at batch 32 (Zen 1).
CALLGRIND_POINT = dict(THROUGHPUT_POINT, scope="steps", hidden=[64, 64], batch=32, steps=CALLGRIND_STEPS, warmup=0,
                       repeats=1)
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
