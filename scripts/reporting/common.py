"""Shared parts of the report (scripts/report.py): loading a run, number formatting, the Report's base
(the run's points, tables, plots, the header and the selection text). The sections are mixins in
convergence.py, speed.py, peers.py and reproduce.py beside this file."""
import argparse
import json
import math
import os
import statistics
import sys
from collections import defaultdict


try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("report.py: matplotlib is missing. Run scripts/setup.sh (installs python3-matplotlib) and use /usr/bin/python3.")

# Published figures (reports/PUBLISHED.md lists each with its source), shown beside ours.
PUBLISHED = [
    ("Hinton (2022), FF, 4x2000 ReLU, 60 epochs, goodness prediction", "MNIST test error", "1.36%"),
    ("Hinton (2022), FF, 2x learning rate, 40 epochs", "MNIST test error", "1.46%"),
    ("Hinton (2022), BP baseline on similar nets, ~20 epochs", "MNIST test error", "about 1.4%"),
    ("Hinton's matlab code, 3x1000, 100 epochs, peer norm 0.03", "MNIST test error (goodness / softmax)", "1.44% / 1.47%"),
    ("PyTorch reference (mpezeshki), [784,500,500], full batch, greedy 1000 steps/layer", "MNIST test error", "6.84%"),
    ("Keras example (port of the above)", "MNIST test accuracy", "97.64%"),
    ("loeweX/Forward-Forward, 3x1000, batch 100, 100 epochs, softmax prediction", "MNIST test error", "1.45%"),
]

MiB = 1024.0 * 1024.0


def load_run(run):
    manifest_path = os.path.join(run, "manifest.json")
    if not os.path.exists(manifest_path):
        sys.exit(f"report.py: {run} has no manifest.json: give a run folder made by 'ffbench run' (reports/runs/...)")
    with open(manifest_path) as f:
        manifest = json.load(f)
    points = []
    folder = os.path.join(run, "points")
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not name.endswith(".json") or name.endswith(".point.json"):
            continue
        try:
            with open(os.path.join(folder, name)) as f:
                points.append(json.load(f))
        except (OSError, json.JSONDecodeError) as error:
            print(f"report.py: skipping unreadable {name}: {error}", file=sys.stderr)
    for p in points:
        fastest_ceiling(p)
    return manifest, points


def fastest_ceiling(p):
    """A throughput point's GEMM ceiling as the fastest timing of its shapes in its process.

    The point times the ceiling before its windows (fastest of 5) and once more right after each
    window (the paired rounds). Where the machine ran faster later than in those first timings (a
    shared host's cores change speed: on a 16-core Xeon VM one thread's rounds ranged 117-156 GFLOP/s
    within one point), a window can beat the first figure, and a ceiling that is beaten is none. So
    the ceiling is raised to the fastest round where one was faster, the fractions follow, and the
    first figure stays under `before_windows_gflops`. Results recorded either way read the same."""
    if p.get("status") != "ok" or p.get("point", {}).get("measure") != "throughput":
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


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_num(value, digits=3):
    if value is None:
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.{digits - 1}f}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.{max(digits - 2, 0)}f}k"
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def slope(xs, ys):
    """Least-squares slope of ys against xs (None with fewer than two distinct xs)."""
    if len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    den = sum((x - mx) ** 2 for x in xs)
    return num / den


def points_model(points, label):
    return next((p["model"] for p in points if p["point"]["label"] == label), "?")


class ReportBase:
    def __init__(self, run, out):
        self.run = run
        self.out = out
        self.plots_dir = os.path.join(out, "plots")
        os.makedirs(self.plots_dir, exist_ok=True)
        self.manifest, self.points = load_run(run)
        self.ok = [p for p in self.points if p.get("status") == "ok" and p["point"].get("engine", "ffbench") == "ffbench"]
        self.peers = [p for p in self.points if p.get("status") == "ok" and p["point"].get("engine") == "torch"]
        self.lines = []
        self.findings = []
        self.lead_findings = []  # time to accuracy, FF against BP: the first findings
        self.tta = {}            # (dataset, split, algorithm, target) -> fastest (seconds, epochs, where, mode) or None
        self.plots = []

    # ---- helpers -------------------------------------------------------------------------------
    def by_experiment(self, measure):
        groups = defaultdict(list)
        for p in self.ok:
            if p["point"]["measure"] == measure:
                groups[p["point"]["experiment"]].append(p)
        return groups

    def save(self, fig, name, caption):
        path = os.path.join(self.plots_dir, name)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        self.plots.append(name)
        self.lines.append(f"![{caption}](plots/{name})\n")

    def table(self, header, rows):
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "---|" * len(header))
        for row in rows:
            self.lines.append("| " + " | ".join(str(c) for c in row) + " |")
        self.lines.append("")

    @staticmethod
    def axes_of(points):
        """The sweep axes that vary within an experiment, in the order depth, width, threads, batch."""
        return [name for name in ("depth", "width", "threads", "batch")
                if len({ReportBase.axis_value(p, name) for p in points}) > 1]

    @staticmethod
    def axis_of(points):
        """The first sweep axis that varies within an experiment (None: none does)."""
        axes = ReportBase.axes_of(points)
        return axes[0] if axes else None

    @staticmethod
    def split_by(experiment, points, axes):
        """(name, points) per combination of the given axes' values: an experiment swept over two axes
        becomes one single-axis series per value of the other (`schedule-t8`: its 8-thread points)."""
        if not axes:
            return [(experiment, points)]
        tag = {"depth": "d", "width": "w", "threads": "t", "batch": "b"}
        groups = defaultdict(list)
        for p in points:
            groups[tuple(ReportBase.axis_value(p, a) for a in axes)].append(p)
        return [(experiment + "".join(f"-{tag[a]}{v}" for a, v in zip(axes, key)), group)
                for key, group in sorted(groups.items())]

    @staticmethod
    def concurrent_gemms(p, profile):
        """Whether a profile's GEMMs ran on several threads at once (then its share and rate do not
        compare with the all-thread ceiling). Results from before the flag: the pipelined schedule on
        more than one thread."""
        if "concurrent_callers" in profile:
            return profile["concurrent_callers"]
        return p["point"].get("options", {}).get("schedule") == "pipelined" and p["point"]["threads"] > 1

    @staticmethod
    def axis_value(p, axis):
        return {"depth": len(p["point"]["hidden"]), "width": p["point"]["hidden"][0], "threads": p["point"]["threads"],
                "batch": p["point"]["batch"]}[axis]

    def denormal_setting(self):
        setting = self.manifest.get("denormals")
        if setting is None:
            return "not recorded (a run from before FTZ/DAZ was set: IEEE subnormals)"
        per_point = sorted({(p.get("denormals") or {}).get("setting", "?") for p in self.ok})
        return f"`{setting}` by default; points: {', '.join(per_point)}" + (
            " (flush = FTZ/DAZ on every thread, as DL frameworks do)" if "flush" in per_point else "")

    def revision_text(self):
        """The source tree's revision, and the binary's when it was built from another (or with changes)."""
        m = self.manifest
        text = f"{m.get('revision')}{' (dirty)' if m.get('dirty') else ''}"
        built = m.get("binary_revision")
        if built and (not str(m.get("revision", "")).startswith(built.split("-")[0]) or built.endswith("-dirty")):
            text += f"; **the binary was built from {built}**"
        return text

    def peak_fma_text(self):
        peak = self.manifest.get("peak_fma")
        if not peak:
            return "not recorded"
        return f"{fmt_num(peak['gflops'])} GFLOP/s f32 on {peak['threads']} threads ({peak['kernel']} FMA microkernel)"

    def memory_bandwidth_text(self):
        roof = self.manifest.get("memory_bandwidth")
        if not roof:
            return "not recorded (a run from before the memory roof)"
        cache = roof.get("last_level_cache_bytes") or 0
        return (f"{roof['gbps']:.1f} GB/s on {roof['threads']} threads: {roof['method']}"
                + (f" (last-level cache {cache / 2**20:.0f} MiB)" if cache else ""))

    def has_new_ceiling(self):
        return any("plain_gflops" in (p.get("roofline") or {}) for p in self.ok)

    def raised_ceilings_text(self):
        raised = [p for p in self.ok if "before_windows_gflops" in (p.get("roofline") or {})
                  or any("before_windows_gflops" in v for v in (p.get("inference") or {}).values())]
        if not raised:
            return ""
        return (f"; in {len(raised)} point(s) raised to the fastest ceiling round timed after a window (the machine ran "
                "faster later than in the first 5 timings; `fastest_ceiling` in scripts/reporting/common.py)")

    def fractions_over_one(self):
        """Every efficiency above 100 % of its ceiling: a measurement bug, never a result."""
        over = []
        for p in self.ok:
            if p["point"]["measure"] != "throughput":
                continue
            if p["train"]["roofline_fraction"] > 1.0:
                over.append((p["id"], "train", p["train"]["roofline_fraction"]))
            for mode, v in p.get("inference", {}).items():
                if v.get("roofline_fraction", 0) > 1.0:
                    over.append((p["id"], f"inference {mode}", v["roofline_fraction"]))
        return over

    # ---- sections ------------------------------------------------------------------------------
    def header(self):
        m = self.manifest
        self.lines += [
            f"# ffbench report: suite `{m.get('suite_name')}`",
            "",
            "Generated by `scripts/report.py` from the result files of this run folder; every number below was "
            "measured by ffbench in this run.",
            "",
            "## Machine and build",
            "",
        ]
        self.table(["what", "value"], [
            ["CPU", m.get("cpu_model")], ["hardware threads", m.get("hardware_threads")],
            ["memory", f"{int(m.get('memory_total_kb') or 0) / 1024 / 1024:.1f} GiB"],
            ["oneDNN", f"{m.get('onednn_version')} (ISA: {m.get('onednn_isa')})"],
            ["compiler", f"{m.get('compiler')} `{m.get('compiler_flags', '').strip()}` ({m.get('build_type')})"],
            ["threading", m.get("threading")],
            ["denormals (ffbench)", self.denormal_setting()],
            ["peak FMA rate (physical limit)", self.peak_fma_text()],
            ["memory bandwidth (the memory roof)", self.memory_bandwidth_text()],
            ["GEMM ceiling", "per matmul shape of the step, the faster of oneDNN's plain and preferred (blocked) layouts, "
                             "no post-ops, fastest of 5 timings, same process" + self.raised_ceilings_text() if self.has_new_ceiling() else
                             "plain row-major oneDNN GEMM only (a run from before the blocked-layout ceiling)"],
            ["revision", self.revision_text()],
            ["created", m.get("created")],
        ])
        statuses = defaultdict(int)
        for p in self.points:
            statuses[p.get("status", "unknown")] += 1
        dataset = m.get("dataset")
        requested = m.get("dataset_requested")
        note = f" (asked for {requested}, which was not fetched)" if requested and requested != dataset else ""
        self.lines += ["## Suite", "", f"`{m.get('suite_name')}`: {m.get('suite', {}).get('description', '')}", "",
                       f"Dataset: **{dataset}**{note}. Points: {len(self.points)} "
                       f"({', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}). Seeds: {m.get('seeds')}.", ""]
        learning = [p for p in self.points if p.get("point", {}).get("measure") in ("convergence", "tune")]
        validated = sorted({p["point"]["experiment"] for p in learning if p["point"].get("validation", 0) > 0})
        on_test = sorted({p["point"]["experiment"] for p in learning if not p["point"].get("validation", 0)})
        if learning:
            parts = []
            if validated:
                parts.append("on a **validation split** (carved from the end of the training split; per-epoch curves, best "
                             "epochs, time to target and tuning choices use it, and the test split is evaluated once per run, "
                             f"for the final model): {', '.join(f'`{e}`' for e in validated)}")
            if on_test:
                parts.append(f"on the **test split after every epoch** (no validation split): {', '.join(f'`{e}`' for e in on_test)}")
            self.lines.append("Accuracy during training is measured " + "; ".join(parts) + ".\n")
        collapsed = sum(1 for p in self.points if p.get("status") == "collapsed")
        if collapsed:
            self.lines.append(f"**{collapsed} point(s) collapsed** (accuracy at chance for 3 evaluations in a row, or a "
                              "dead layer): recorded and stopped early, see below.\n")
        over = self.fractions_over_one()
        if over:
            self.lines.append("**Measurement bug: efficiencies above 100 % of their ceiling** (a ceiling the measured "
                              "thing exceeds is not a ceiling; `report.py --check` fails on this run):\n")
            self.table(["point", "what", "fraction"], [[i, w, f"{100 * f:.1f}%"] for i, w, f in over])
        bad = [p for p in self.points if p.get("status") in ("failed", "diverged", "collapsed")]
        if bad:
            self.lines.append("Points that did not finish normally:\n")
            self.table(["point", "status", "detail"], [[p["id"], p["status"], str(p.get("detail", ""))[:160]] for p in bad])

    @staticmethod
    def curve_split(points):
        """'validation' when the points' per-epoch evaluations are on a validation split, else 'test'."""
        return "validation" if any(p["point"].get("validation", 0) > 0 for p in points) else "test"

    @staticmethod
    def selection_text(points):
        """Which split the per-epoch curves and the choices made from them use, in one sentence."""
        validation = sorted({p.get("validation_samples") or p["point"].get("validation", 0) for p in points})
        if any(v > 0 for v in validation):
            return (f"Curves, best epochs and time to target use the **validation split** ({', '.join(str(v) for v in validation)} "
                    "samples carved from the end of the training split); the **test split was evaluated once**, for the "
                    "final model (selection: validation).")
        return ("No validation split: the **test split was evaluated after every epoch**, and the curves and time to target "
                "are on it (selection: none).")
