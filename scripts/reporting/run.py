"""One run folder's data as the report reads it (`Run`): the manifest (`ffbench run` writes it, with the
algorithms of `ffbench list --json`), every result file under points/, the finished ffbench and PyTorch
points, where the plots go, and the findings the sections record. Every section of the report is a
function of a Run returning its lines (scripts/report.py lists them in order)."""
import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field

from reporting.common import plt
from reporting.status import Status


@dataclass
class Run:
    manifest: dict
    points: list                  # every result file, as read (any status, any engine)
    out: str = ""                 # where REPORT.md and plots/ go
    ok: list = field(init=False)     # finished ffbench points
    peers: list = field(init=False)  # finished PyTorch points (`"engine": "torch"`)
    findings: list = field(default_factory=list)  # one sentence each, in the order the sections found them
    plots: list = field(default_factory=list)     # the plots saved, by file name

    def __post_init__(self):
        finished = [p for p in self.points if p.get("status") == Status.OK]
        self.ok = [p for p in finished if p["point"].get("engine", "ffbench") == "ffbench"]
        self.peers = [p for p in finished if p["point"].get("engine") == "torch"]

    @property
    def plots_dir(self):
        return os.path.join(self.out, "plots")

    def algorithms(self):
        """name -> the manifest's entry for it (`ffbench list --json`; empty for runs before it was recorded)."""
        return {a["name"]: a for a in self.manifest.get("algorithms", []) if isinstance(a, dict)}

    def by_experiment(self, measure):
        groups = defaultdict(list)
        for p in self.ok:
            if p["point"]["measure"] == measure:
                groups[p["point"]["experiment"]].append(p)
        return groups

    def save(self, fig, name, caption):
        """Writes the figure to plots/NAME and returns the report's line for it."""
        os.makedirs(self.plots_dir, exist_ok=True)
        fig.tight_layout()
        fig.savefig(os.path.join(self.plots_dir, name), dpi=110)
        plt.close(fig)
        self.plots.append(name)
        return f"![{caption}](plots/{name})\n"


def load(folder, out):
    """The Run of a folder made by `ffbench run`; exits naming the folder when it is not one."""
    manifest_path = os.path.join(folder, "manifest.json")
    if not os.path.exists(manifest_path):
        sys.exit(f"report.py: {folder} has no manifest.json: give a run folder made by 'ffbench run' (reports/runs/...)")
    with open(manifest_path) as f:
        manifest = json.load(f)
    points = read_points(os.path.join(folder, "points"))
    for p in points:
        fastest_ceiling(p)
    return Run(manifest, points, out)


def read_points(folder):
    """Every result file (points/*.json, not the *.point.json the runner writes beside them); an
    unreadable one is skipped with a line on stderr."""
    points = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not name.endswith(".json") or name.endswith(".point.json"):
            continue
        try:
            with open(os.path.join(folder, name)) as f:
                points.append(json.load(f))
        except (OSError, json.JSONDecodeError) as error:
            print(f"report.py: skipping unreadable {name}: {error}", file=sys.stderr)
    return points


def fastest_ceiling(p):
    """A throughput point's GEMM ceiling as the fastest timing of its shapes in its process.

    The point times the ceiling before its windows (fastest of 5) and once more right after each
    window (the paired rounds). Where the machine ran faster later than in those first timings (a
    shared host's cores change speed: on a 16-core Xeon VM one thread's rounds ranged 117-156 GFLOP/s
    within one point), a window can beat the first figure, and a ceiling that is beaten is none. So
    the ceiling is raised to the fastest round where one was faster, the fractions follow, and the
    first figure stays under `before_windows_gflops`. Results recorded either way read the same."""
    if p.get("status") != Status.OK or p.get("point", {}).get("measure") != "throughput":
        return
    train = p.get("train") or {}
    if p.get("roofline") and train.get("roofline_fraction") is not None:
        raise_ceiling(p["roofline"], "gflops", train, p.get("step_profile"))
    for mode in (p.get("inference") or {}).values():
        if "roofline_fraction" in mode:
            raise_ceiling(mode, "roofline_gflops", mode, mode.get("profile"))


def raise_ceiling(holder, key, measured, profile):
    """holder[key], a ceiling timed before the windows, raised to the fastest of measured's paired
    rounds where one was faster; measured's fraction and the profile's GEMM fraction follow."""
    ceiling = holder.get(key)
    rounds = [r for r in (measured.get("paired") or {}).get("ceiling_gflops") or [] if r]
    if not ceiling or not rounds or max(rounds) <= ceiling:
        return
    factor = max(rounds) / ceiling
    holder["before_windows_gflops"] = ceiling
    holder[key] = max(rounds)
    measured["roofline_fraction"] /= factor
    if profile and "gemm_fraction_of_ceiling_in_step" in profile:
        profile["gemm_fraction_of_ceiling_in_step"] /= factor


def fractions_over_one(run):
    """Every efficiency above 100 % of its ceiling: a measurement bug, never a result."""
    over = []
    for p in run.ok:
        if p["point"]["measure"] != "throughput":
            continue
        if p["train"]["roofline_fraction"] > 1.0:
            over.append((p["id"], "train", p["train"]["roofline_fraction"]))
        for mode, v in p.get("inference", {}).items():
            if v.get("roofline_fraction", 0) > 1.0:
                over.append((p["id"], f"inference {mode}", v["roofline_fraction"]))
    return over
