#!/usr/bin/python3
"""Make REPORT.md and PNG plots for an ffbench run folder.

Reads only the run's result files (manifest.json, points/*.json, points/*.csv) and writes
RUN/REPORT.md and RUN/plots/*.png. Every number in the report is computed here from those files.

Usage: /usr/bin/python3 scripts/report.py RUN_FOLDER [--out FOLDER]
Needs matplotlib (Debian: python3-matplotlib, installed by scripts/setup.sh).
"""
import argparse
import json
import math
import os
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_distributed  # noqa: E402  (the "Past one machine" section)

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
    return manifest, points


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


class Report:
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
    def axis_of(points):
        """Which sweep axis varies within an experiment."""
        depth = {len(p["point"]["hidden"]) for p in points}
        width = {p["point"]["hidden"][0] for p in points}
        threads = {p["point"]["threads"] for p in points}
        batch = {p["point"]["batch"] for p in points}
        for name, values in (("depth", depth), ("width", width), ("threads", threads), ("batch", batch)):
            if len(values) > 1:
                return name
        return None

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

    def peak_fma_text(self):
        peak = self.manifest.get("peak_fma")
        if not peak:
            return "not recorded"
        return f"{fmt_num(peak['gflops'])} GFLOP/s f32 on {peak['threads']} threads ({peak['kernel']} FMA microkernel)"

    def has_new_ceiling(self):
        return any("plain_gflops" in (p.get("roofline") or {}) for p in self.ok)

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
            ["GEMM ceiling", "per matmul shape of the step, the faster of oneDNN's plain and preferred (blocked) layouts, "
                             "no post-ops, fastest of 5 timings, same process" if self.has_new_ceiling() else
                             "plain row-major oneDNN GEMM only (a run from before the blocked-layout ceiling)"],
            ["revision", f"{m.get('revision')}{' (dirty)' if m.get('dirty') else ''}"],
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

    def convergence(self):
        groups = self.by_experiment("convergence")
        distributed = report_distributed.experiments_with_ranks(self.ok)  # their own section
        for experiment, points in sorted(groups.items()):
            if experiment in distributed:
                continue
            self.lines += [f"## Convergence: `{experiment}`", ""]
            model = points[0].get("model")
            split = self.curve_split(points)
            validation = f"{points[0].get('validation_samples')} validation / " if split == "validation" else ""
            self.lines.append(f"Model {model}, batch {points[0]['point']['batch']}, "
                              f"{points[0].get('train_samples')} training / {validation}{points[0].get('test_samples')} test "
                              "samples. Training wall time excludes evaluation; median over seeds, band = min..max. "
                              f"{self.selection_text(points)}\n")
            key = f"{split}_accuracy"
            curves = defaultdict(list)  # (label, mode) -> list of per-seed [(epoch, seconds, acc)]
            tests = defaultdict(list)   # (label, mode) -> per-seed final test accuracy
            best = defaultdict(list)    # (label, mode) -> per-seed best epoch on validation
            for p in points:
                for mode in p.get("modes", []):
                    curve = [(e["epoch"], e["train_seconds"], e[key][mode]) for e in p["epochs"] if key in e]
                    curves[(p["point"]["label"], mode)].append(curve)
                    final = (p.get("final_accuracy") or {}).get(mode)
                    if final is not None:
                        tests[(p["point"]["label"], mode)].append(final)
                    if (p.get("best_validation") or {}).get(mode):
                        best[(p["point"]["label"], mode)].append(p["best_validation"][mode]["epoch"])
            rows = []
            for (label, mode), seeds in sorted(curves.items()):
                finals = tests[(label, mode)]
                per_epoch = [c[-1][1] / c[-1][0] for c in seeds if c]
                row = [label, mode, len(seeds), f"{100 * med(finals):.2f}%" if finals else "n/a",
                       f"{100 * min(finals):.2f}..{100 * max(finals):.2f}%" if finals else "n/a"]
                if split == "validation":
                    val = [c[-1][2] for c in seeds if c]
                    row += [f"{100 * med(val):.2f}%" if val else "n/a", ", ".join(str(b) for b in best[(label, mode)]) or "n/a"]
                row += [seeds[0][-1][0] if seeds[0] else 0, f"{med(per_epoch):.2f}" if per_epoch else "n/a"]
                rows.append(row)
            header = ["algorithm", "prediction", "seeds", "final test acc (median)", "spread"]
            if split == "validation":
                header += ["final validation acc (median)", "best epoch on validation (per seed)"]
            self.table(header + ["epochs", "s/epoch"], rows)
            for xaxis, name in ((1, "seconds"), (0, "epochs")):
                fig, ax = plt.subplots(figsize=(7, 4.2))
                for (label, mode), seeds in sorted(curves.items()):
                    length = min(len(c) for c in seeds)
                    if length == 0:
                        continue
                    xs = [med([c[i][xaxis] for c in seeds]) for i in range(length)]
                    accs = [[100 * c[i][2] for c in seeds] for i in range(length)]
                    line, = ax.plot(xs, [med(a) for a in accs], marker="o", label=f"{label} ({mode})")
                    if len(seeds) > 1:
                        ax.fill_between(xs, [min(a) for a in accs], [max(a) for a in accs], alpha=0.2, color=line.get_color())
                ax.set_xlabel("training wall time (s)" if xaxis == 1 else "epoch")
                ax.set_ylabel(f"{split} accuracy (%)")
                ax.set_title(f"{experiment}: {split} accuracy vs {'wall time' if xaxis == 1 else 'epochs'}")
                ax.grid(alpha=0.3)
                ax.legend(fontsize=8)
                self.save(fig, f"accuracy_vs_{name}_{experiment}.png", f"{split} accuracy vs {name}")
            self.time_to_target(experiment, points)
            self.diagnostics(experiment, points)
            self.convergence_findings(experiment, points, curves)

    def time_to_target(self, experiment, points):
        targets = sorted({t for p in points for t in p["point"].get("targets", [])})
        if not targets:
            return
        results = defaultdict(lambda: defaultdict(list))
        for p in points:
            for mode, per_target in p.get("time_to_target", {}).items():
                for target, reached in per_target.items():
                    results[(p["point"]["label"], mode)][float(target)].append(reached)
        rows = []
        for (label, mode), per_target in sorted(results.items()):
            row = [label, mode]
            for t in targets:
                reached = per_target.get(t, [])
                hit = [r for r in reached if r]
                if len(hit) == len(reached) and hit:
                    row.append(f"{med([r['seconds'] for r in hit]):.1f} s / {med([r['epoch'] for r in hit]):g} ep")
                elif hit:
                    row.append(f"{len(hit)}/{len(reached)} seeds: {med([r['seconds'] for r in hit]):.1f} s")
                else:
                    row.append("not reached")
            rows.append(row)
        split = self.curve_split(points)
        self.time_to_accuracy_finding(experiment, points, targets, results, split)
        self.lines.append(f"Time to target {split} accuracy (median over seeds; training wall time and epochs):\n")
        self.table(["algorithm", "prediction"] + [f"{100 * t:g}%" for t in targets], rows)
        fig, ax = plt.subplots(figsize=(7, 4))
        keys = sorted(results)
        width = 0.8 / max(len(targets), 1)
        for i, t in enumerate(targets):
            values = []
            for key in keys:
                hit = [r for r in results[key].get(t, []) if r]
                values.append(med([r["seconds"] for r in hit]) if hit else 0)
            ax.bar([k + i * width for k in range(len(keys))], values, width=width, label=f"{100 * t:g}%")
        ax.set_xticks([k + width * (len(targets) - 1) / 2 for k in range(len(keys))])
        ax.set_xticklabels([f"{l}\n{m}" for l, m in keys], fontsize=8)
        ax.set_ylabel("seconds to reach (0 = not reached)")
        ax.set_title(f"{experiment}: time to target accuracy")
        ax.legend()
        self.save(fig, f"time_to_target_{experiment}.png", "time to target accuracy")

    def time_to_accuracy_finding(self, experiment, points, targets, results, split):
        """MLPerf-style time to accuracy: per (dataset, split), algorithm and target the fastest label and
        prediction mode of any experiment (median over seeds; every seed must reach it). The findings,
        FF against BP, are made in write() (lead_time_to_accuracy) from all experiments together."""
        algorithm_of = {p["point"]["label"]: p["point"]["algorithm"] for p in points}
        dataset = points[0]["point"].get("dataset", "?")
        for (label, mode), per_target in results.items():
            for t in targets:
                reached = per_target.get(t, [])
                key = (dataset, split, algorithm_of.get(label), t)
                if not reached or not all(reached):
                    self.tta.setdefault(key, None)
                    continue
                candidate = (med([r["seconds"] for r in reached]), med([r["epoch"] for r in reached]),
                             f"{experiment}/{label}", mode)
                if self.tta.get(key) is None or candidate[0] < self.tta[key][0]:
                    self.tta[key] = candidate

    def lead_time_to_accuracy(self):
        groups = sorted({(d, s) for d, s, _, _ in self.tta})
        for dataset, split in groups:
            targets = sorted({t for d, s, _, t in self.tta if (d, s) == (dataset, split)})
            algorithms = {a for d, s, a, _ in self.tta if (d, s) == (dataset, split)}
            if not {"bp", "ff"} <= algorithms:
                continue
            parts = []
            for t in targets:
                bp, ff = self.tta.get((dataset, split, "bp", t)), self.tta.get((dataset, split, "ff", t))
                if bp is None:
                    continue
                bp_text = f"bp {bp[0]:.1f} s ({bp[1]:g} epochs, {bp[2]})"
                if ff is None:
                    parts.append(f"{100 * t:g}%: {bp_text}; ff did not reach it in this run")
                else:
                    parts.append(f"{100 * t:g}%: ff {ff[0]:.1f} s ({ff[1]:g} epochs, {ff[2]} {ff[3]}) against {bp_text}: "
                                 f"FF/BP {ff[0] / bp[0]:.1f}x")
            if parts:
                self.lead_findings.append(f"Time to {split} accuracy on {dataset} (median over seeds, training time, each "
                                          "algorithm's fastest configuration in this run): " + "; ".join(parts) + ".")

    def diagnostics(self, experiment, points):
        rows = []
        for p in points:
            if "layer_accuracy" not in p or not p["epochs"]:
                continue
            last = p["epochs"][-1]
            for layer, acc in enumerate(p["layer_accuracy"]):
                pos = last.get("goodness_pos", [None] * (layer + 1))[layer] if layer < len(last.get("goodness_pos", [])) else None
                neg = last.get("goodness_neg", [None] * (layer + 1))[layer] if layer < len(last.get("goodness_neg", [])) else None
                sep = (pos - neg) if pos is not None and neg is not None else None
                rows.append([p["point"]["label"], p["point"]["seed"], layer + 1, fmt_num(pos), fmt_num(neg), fmt_num(sep),
                             f"{100 * acc:.2f}%"])
        if rows:
            self.lines.append("FF per-layer diagnostics (last epoch's mean goodness of positives and negatives, their "
                              "separation, and each layer's goodness-prediction accuracy on its own):\n")
            self.table(["algorithm", "seed", "layer", "goodness +", "goodness -", "separation", "accuracy alone"], rows)

    def convergence_findings(self, experiment, points, curves):
        def time_to(label_prefix, target):
            best = None
            for p in points:
                if p["point"]["algorithm"] != label_prefix or p["point"]["label"] != label_prefix:
                    continue
                for mode, per_target in p.get("time_to_target", {}).items():
                    reached = per_target.get(f"{target:.4g}")
                    if reached:
                        best = (best or []) + [(mode, reached["seconds"], p["point"]["seed"])]
            return best

        split = self.curve_split(points)
        for target in (0.97, 0.95):
            bp, ff = time_to("bp", target), time_to("ff", target)
            if bp and ff:
                bp_s = med([s for _, s, _ in bp])
                by_mode = defaultdict(list)
                for mode, s, _ in ff:
                    by_mode[mode].append(s)
                mode, times = min(by_mode.items(), key=lambda kv: med(kv[1]))
                self.findings.append(
                    f"To reach {100 * target:g}% {split} accuracy ({experiment}), FF needed {med(times) / bp_s:.1f}x BP's training "
                    f"wall time: {med(times):.1f} s with {mode} prediction against BP's {bp_s:.1f} s (medians over seeds).")
                break
            if bp and not ff:
                ff_final = [c[-1][2] for (label, _), seeds in curves.items() if label == "ff" for c in seeds if c]
                if ff_final:
                    self.findings.append(
                        f"BP reached {100 * target:g}% {split} accuracy in {med([s for _, s, _ in bp]):.1f} s ({experiment}); FF did "
                        f"not reach it within the run (best final accuracy {100 * max(ff_final):.2f}%).")
                break
        per_epoch = {}
        for label in ("bp", "ff", "ff_symba"):
            secs = [p["epochs"][-1]["train_seconds"] / p["epochs"][-1]["epoch"] for p in points
                    if p["point"]["label"] == label and p["epochs"]]
            if secs:
                per_epoch[label] = med(secs)
        if "bp" in per_epoch and "ff" in per_epoch:
            self.findings.append(
                f"One FF epoch took {per_epoch['ff'] / per_epoch['bp']:.2f}x a BP epoch ({per_epoch['ff']:.2f} s against "
                f"{per_epoch['bp']:.2f} s, {experiment}, {points[0].get('model')}).")

    def throughput(self):
        groups = self.by_experiment("throughput")
        for experiment, points in sorted(groups.items()):
            axis = self.axis_of(points)
            self.lines += [f"## Throughput: `{experiment}`" + (f" (sweep over {axis})" if axis else ""), ""]
            self.lines.append("Train samples/s over steady-state windows (warm-up excluded; median of repeats), GFLOP/s from "
                              "the analytic FLOPs, and the fraction of the GEMM ceiling measured on the same shapes in the "
                              "same process (per shape the faster of oneDNN's plain and blocked layouts).\n")
            rows = []
            for p in sorted(points, key=lambda q: (q["point"]["label"], self.axis_value(q, axis) if axis else 0)):
                t = p["train"]
                mem = p["memory"]
                inference = ", ".join(f"{m}: {fmt_num(v['samples_per_s_median'])}" for m, v in p.get("inference", {}).items())
                rows.append([p["point"]["label"], p["model"], p["point"]["batch"], p["point"]["threads"],
                             fmt_num(t["samples_per_s_median"]), f"{fmt_num(t['samples_per_s_min'])}..{fmt_num(t['samples_per_s_max'])}",
                             f"{t['gflops']:.0f}", f"{p['roofline']['gflops']:.0f}", f"{100 * t['roofline_fraction']:.0f}%",
                             inference, f"{mem['peak_live_activations'] / MiB:.2f}", f"{mem['arena_total'] / MiB:.1f}",
                             f"{mem['peak_rss'] / MiB:.0f}"])
            self.table(["algorithm", "model", "B", "threads", "train samples/s", "range", "GFLOP/s", "GEMM roofline GFLOP/s",
                        "of roofline", "inference samples/s", "peak live act. MiB", "arena MiB", "peak RSS MiB"], rows)
            if axis:
                self.sweep_plots(experiment, points, axis)
            self.inference_plot(experiment, points)

    def sweep_plots(self, experiment, points, axis):
        labels = sorted({p["point"]["label"] for p in points})
        fig, ax = plt.subplots(1, 2, figsize=(11, 4))
        for label in labels:
            series = sorted((self.axis_value(p, axis), p) for p in points if p["point"]["label"] == label)
            xs = [x for x, _ in series]
            ax[0].plot(xs, [p["train"]["samples_per_s_median"] for _, p in series], marker="o", label=label)
            ax[1].plot(xs, [100 * p["train"]["roofline_fraction"] for _, p in series], marker="o", label=label)
        ax[0].set_ylabel("train samples/s")
        ax[0].set_yscale("log")
        ax[1].set_ylabel("% of GEMM roofline")
        for a in ax:
            a.set_xlabel(axis)
            a.grid(alpha=0.3)
            a.legend(fontsize=8)
        ax[0].set_title(f"{experiment}: train throughput vs {axis}")
        ax[1].set_title(f"{experiment}: roofline fraction vs {axis}")
        self.save(fig, f"throughput_vs_{axis}_{experiment}.png", f"throughput vs {axis}")
        if axis == "depth":
            self.memory_plot(experiment, points, labels)
            self.depth_findings(experiment, points, labels)
        if axis == "threads":
            self.thread_plot(experiment, points, labels)
        if axis == "width":
            self.width_findings(experiment, points, labels)

    def memory_plot(self, experiment, points, labels):
        categories = ["weights", "grads", "optimizer", "activations", "scratch"]
        fig, axes = plt.subplots(1, len(labels), figsize=(4.2 * len(labels), 4), squeeze=False)
        for a, label in zip(axes[0], labels):
            series = sorted((len(p["point"]["hidden"]), p) for p in points if p["point"]["label"] == label)
            xs = [str(x) for x, _ in series]
            bottom = [0.0] * len(series)
            for c in categories:
                values = [p["memory"].get(c, 0) / MiB for _, p in series]
                a.bar(xs, values, bottom=bottom, label=c)
                bottom = [b + v for b, v in zip(bottom, values)]
            a.plot(xs, [p["memory"]["peak_live_activations"] / MiB for _, p in series], "k--o", label="peak live activations")
            a.set_title(label)
            a.set_xlabel("depth (hidden layers)")
            a.set_ylabel("MiB")
            a.legend(fontsize=7)
        fig.suptitle(f"{experiment}: arena memory by category vs depth")
        self.save(fig, f"memory_vs_depth_{experiment}.png", "memory by category vs depth")

    def depth_findings(self, experiment, points, labels):
        slopes = {}
        for label in labels:
            series = sorted((len(p["point"]["hidden"]), p) for p in points if p["point"]["label"] == label)
            xs = [x for x, _ in series]
            live = slope(xs, [p["memory"]["peak_live_activations"] for _, p in series])
            total = slope(xs, [p["memory"]["arena_total"] for _, p in series])
            slopes[label] = (live, total)
            rates = [p["train"]["samples_per_s_median"] for _, p in series]
            if len(series) >= 2:
                self.findings.append(
                    f"{label}: from depth {xs[0]} to {xs[-1]} ({experiment}, width {series[0][1]['point']['hidden'][0]}), train "
                    f"throughput fell from {fmt_num(rates[0])} to {fmt_num(rates[-1])} samples/s ({rates[0] / rates[-1]:.1f}x); "
                    f"peak live activation memory grows by {fmt_num(live / 1024)} KiB per layer and the whole arena by "
                    f"{fmt_num(total / MiB)} MiB per layer.")
        if "ff" in slopes and "bp" in slopes and slopes["bp"][0]:
            self.findings.append(
                f"Activation-memory slope: FF {fmt_num(slopes['ff'][0])} bytes per layer against BP's {fmt_num(slopes['bp'][0])} "
                f"bytes per layer ({experiment}).")
        deepest = max(len(p["point"]["hidden"]) for p in points)
        at = {p["point"]["label"]: p for p in points if len(p["point"]["hidden"]) == deepest}
        if "ff" in at and "bp" in at:
            ff, bp = at["ff"], at["bp"]
            self.findings.append(
                f"At depth {deepest} FF trains at {fmt_num(ff['train']['samples_per_s_median'])} samples/s against BP's "
                f"{fmt_num(bp['train']['samples_per_s_median'])} ({bp['train']['samples_per_s_median'] / ff['train']['samples_per_s_median']:.2f}x slower), "
                f"doing {ff['flops_per_sample']['train'] / bp['flops_per_sample']['train']:.2f}x BP's matmul FLOPs per sample "
                f"at {100 * ff['train']['roofline_fraction']:.0f}% of the GEMM roofline (BP {100 * bp['train']['roofline_fraction']:.0f}%).")

    def width_findings(self, experiment, points, labels):
        for label in labels:
            series = sorted((p["point"]["hidden"][0], p) for p in points if p["point"]["label"] == label)
            fractions = ", ".join(f"{w}: {100 * p['train']['roofline_fraction']:.0f}%" for w, p in series)
            self.findings.append(f"{label} roofline fraction by width ({experiment}): {fractions}.")

    def thread_plot(self, experiment, points, labels):
        fig, ax = plt.subplots(1, 2, figsize=(10, 4))
        for label in labels:
            series = sorted((p["point"]["threads"], p["train"]["samples_per_s_median"]) for p in points if p["point"]["label"] == label)
            if not series or series[0][0] != 1:
                continue
            base = series[0][1]
            xs = [n for n, _ in series]
            ax[0].plot(xs, [r for _, r in series], marker="o", label=label)
            efficiency = [r / (base * n) for n, r in series]
            ax[1].plot(xs, [100 * e for e in efficiency], marker="o", label=label)
            self.findings.append(
                f"{label}: {xs[-1]} threads give {series[-1][1] / base:.2f}x the 1-thread throughput, an efficiency "
                f"t1/(N tN) of {100 * efficiency[-1]:.0f}% ({experiment}, {points[0]['model']}).")
        ax[0].set_ylabel("train samples/s")
        ax[1].set_ylabel("efficiency t1 / (N tN) (%)")
        for a in ax:
            a.set_xlabel("threads")
            a.grid(alpha=0.3)
            a.legend(fontsize=8)
        ax[0].set_title(f"{experiment}: thread scaling")
        ax[1].set_title(f"{experiment}: thread efficiency")
        self.save(fig, f"thread_scaling_{experiment}.png", "thread scaling")

    def inference_plot(self, experiment, points):
        if getattr(self, "_inference_done", False):
            return
        candidates = [p for p in points if len(p.get("inference", {})) > 1]
        if not candidates:
            return
        self._inference_done = True
        # One point per label shows the cost per prediction mode: two hidden layers where there is
        # one (goodness prediction skips the first layer, so depth 1 would flatter it), else the shallowest.
        def preference(p):
            depth = len(p["point"]["hidden"])
            return (depth != 2, depth)
        chosen = {}
        for p in points:
            label = p["point"]["label"]
            if label not in chosen or preference(p) < preference(chosen[label]):
                chosen[label] = p
        fig, ax = plt.subplots(figsize=(7, 4))
        names, values = [], []
        for label, p in sorted(chosen.items()):
            for mode, v in p["inference"].items():
                names.append(f"{label}\n{mode}")
                values.append(v["samples_per_s_median"])
        ax.bar(names, values)
        ax.set_yscale("log")
        ax.set_ylabel("inference samples/s")
        ax.set_title(f"inference cost per prediction mode ({experiment}, {next(iter(chosen.values()))['model']})")
        self.save(fig, f"inference_cost_{experiment}.png", "inference cost per prediction mode")
        for label, p in sorted(chosen.items()):
            inf = p["inference"]
            if "goodness" in inf and "softmax" in inf:
                ratio = inf["softmax"]["samples_per_s_median"] / inf["goodness"]["samples_per_s_median"]
                flops = p["flops_per_sample"]["inference"]
                self.findings.append(
                    f"{label} goodness prediction costs {ratio:.1f}x one-pass softmax prediction in time "
                    f"({fmt_num(inf['goodness']['samples_per_s_median'])} against {fmt_num(inf['softmax']['samples_per_s_median'])} "
                    f"samples/s, {p['model']}) and {flops['goodness'] / flops['softmax']:.1f}x in matmul FLOPs "
                    f"(a naive pass per label would be about {p['point'].get('classes', 10)}x).")

    def roofline_plot(self):
        points = [p for p in self.ok if p["point"]["measure"] == "throughput"]
        if not points:
            return
        per_label = defaultdict(list)
        for p in points:
            per_label[p["point"]["label"]].append(100 * p["train"]["roofline_fraction"])
        fig, ax = plt.subplots(figsize=(7, 4))
        labels = sorted(per_label)
        ax.boxplot([per_label[l] for l in labels], labels=labels)
        ax.set_ylabel("% of GEMM roofline (train)")
        ax.set_title("roofline fraction per algorithm (all throughput points)")
        ax.grid(alpha=0.3)
        self.lines += ["## Roofline fraction per algorithm", ""]
        self.save(fig, "roofline_fraction.png", "roofline fraction per algorithm")
        self.table(["algorithm", "points", "median % of roofline", "min", "max"],
                   [[l, len(per_label[l]), f"{med(per_label[l]):.0f}%", f"{min(per_label[l]):.0f}%", f"{max(per_label[l]):.0f}%"]
                    for l in labels])

    # ---- training throughput through training (issue 17) -----------------------------------------
    def drift_section(self):
        """Per-epoch samples/s of every convergence run, relative to its second epoch (the first carries
        warm-up: page faults, oneDNN's JIT, cold caches), the throughput points timed again after
        training, and flush against keep where the run has both."""
        convergence = [p for p in self.ok + self.peers if p["point"]["measure"] == "convergence"
                       and len([e for e in p.get("epochs", []) if e.get("samples_per_second")]) >= 3]
        after = [p for p in self.ok if p.get("train_after_training")]
        if not convergence and not after:
            return
        self.lines += ["## Throughput drift through training", "",
                       "Training samples/s of each epoch relative to epoch 2 (epoch 1 carries warm-up), median over "
                       "seeds. Subnormal floats make some x86 cores slow down once weights and optimizer moments "
                       "decay toward zero; ffbench flushes them (FTZ/DAZ) unless a point says `denormals: keep`.", ""]
        series = defaultdict(list)  # (experiment, label, engine, denormals) -> per-seed relative rates
        for p in convergence:
            rates = [e["samples_per_second"] for e in p["epochs"] if e.get("samples_per_second")]
            key = (p["point"]["experiment"], p["point"]["label"], (p.get("denormals") or {}).get("setting", "not recorded"))
            series[key].append([r / rates[1] for r in rates])
        rows = []
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for (experiment, label, denormals), runs in sorted(series.items()):
            length = min(len(r) for r in runs)
            curve = [med([r[i] for r in runs]) for i in range(length)]
            ax.plot(range(1, length + 1), [100 * c for c in curve], marker="o", label=f"{experiment}: {label} ({denormals})")
            late = curve[1:]
            drift = min(late) if late else 1.0
            rows.append([experiment, label, denormals, len(runs), f"{100 * curve[0]:.0f}%",
                         f"{100 * min(late):.0f}..{100 * max(late):.0f}%", "flat (within 10 %)" if drift >= 0.9 else
                         f"slows to {100 * drift:.0f}%"])
            if experiment == "convergence":
                self.findings.append(f"Throughput drift through training, {label} ({denormals} denormals): epochs 2-{length} "
                                     f"ran at {100 * min(late):.0f}-{100 * max(late):.0f}% of epoch 2's samples/s"
                                     + (" (flat)." if drift >= 0.9 else "."))
        ax.axhline(90, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel("samples/s, % of epoch 2")
        ax.set_title("training throughput through training")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
        self.table(["experiment", "algorithm", "denormals", "seeds", "epoch 1", "epochs 2..N", "verdict"], rows)
        self.save(fig, "throughput_drift.png", "training throughput per epoch relative to epoch 2")
        flush_keep = defaultdict(dict)
        for p in convergence:
            if p["point"].get("engine", "ffbench") != "ffbench":
                continue
            setting = (p.get("denormals") or {}).get("setting")
            per_epoch = p["epochs"][-1]["train_seconds"] / p["epochs"][-1]["epoch"]
            flush_keep[(p["point"]["algorithm"], p["model"], p["point"]["batch"], p["point"]["seed"],
                        json.dumps({k: v for k, v in p["point"]["options"].items()}, sort_keys=True))][setting] = (per_epoch, p)
        pairs = [(k, v) for k, v in flush_keep.items() if "flush" in v and "keep" in v]
        if pairs:
            self.lines += ["Flushing subnormals (FTZ/DAZ) against keeping them, same configuration and seed:", ""]
            rows = []
            for (algorithm, model, batch, seed, _), v in sorted(pairs):
                (flush, pf), (keep, pk) = v["flush"], v["keep"]
                accuracy = "; ".join(f"{m}: {100 * pf['epochs'][-1]['test_accuracy'][m]:.2f}% vs "
                                     f"{100 * pk['epochs'][-1]['test_accuracy'][m]:.2f}%"
                                     for m in pf.get("modes", []) if m in pk["epochs"][-1].get("test_accuracy", {}))
                census = pk["epochs"][-1].get("census", {}).get("by_category", {})
                subnormal = ", ".join(f"{c} {v['subnormal']}" for c, v in census.items() if v.get("subnormal"))
                rows.append([algorithm, model, batch, seed, f"{flush:.2f}", f"{keep:.2f}", f"{keep / flush:.2f}x", accuracy,
                             subnormal or "none"])
                self.findings.append(f"Denormals, {algorithm} {model}: {flush:.2f} s/epoch with FTZ/DAZ against {keep:.2f} "
                                     f"with IEEE subnormals ({keep / flush:.2f}x) on {self.manifest.get('cpu_model')}.")
            self.table(["algorithm", "model", "B", "seed", "s/epoch flush", "s/epoch keep", "keep / flush",
                        "final test accuracy flush vs keep", "subnormal values at the end (keep)"], rows)
        if after:
            self.lines += ["Throughput points timed again after training on the dataset (real batches):", ""]
            rows = []
            for p in sorted(after, key=lambda q: q["id"]):
                a = p["train_after_training"]
                census = a.get("census", {}).get("by_category", {})
                subnormal = ", ".join(f"{c} {v['subnormal']}" for c, v in census.items() if v.get("subnormal"))
                rows.append([p["point"]["label"], p["model"], p["point"]["batch"],
                             (p.get("denormals") or {}).get("setting", "?"), a["epochs"],
                             fmt_num(p["train"]["samples_per_s_median"]), fmt_num(a["samples_per_s_median"]),
                             f"{a['ratio_to_init']:.2f}x", subnormal or "none"])
            self.table(["algorithm", "model", "B", "denormals", "epochs trained first", "samples/s at init",
                        "samples/s after", "after / init", "subnormal values after"], rows)

    # ---- ffbench against the PyTorch peer --------------------------------------------------------
    # A framework ratio means little when one side's BLAS runs a fallback kernel (issue 12: Debian's
    # OpenBLAS 0.3.21 ran its generic kernel at a quarter of oneDNN's rate on a new Xeon). Each side's
    # GEMM rate on the same shapes is in the result files; below this share of oneDNN's, a ratio is
    # marked as measuring a handicapped peer.
    PEER_GEMM_FAIR = 0.80

    @staticmethod
    def plain_rate(entry):
        """oneDNN's plain-layout GEMM rate (a BLAS's like for like) where the ceiling records it beside
        its best-of-layouts rate; the ceiling's rate otherwise (runs before the blocked layout)."""
        return entry.get("plain_gflops") or entry.get("gflops")

    def peer_gemm_share(self, algorithm):
        """The lowest GEMM share of the PyTorch peer's throughput points of this algorithm against the
        matching ffbench points (same model, batch, threads); None when not recorded."""
        shares = []
        for t in self.peers:
            q = t["point"]
            if q["algorithm"] != algorithm or q["measure"] != "throughput" or not t.get("gemm"):
                continue
            twin = next((p for p in self.ok if p["point"]["measure"] == "throughput" and p["point"]["algorithm"] == algorithm
                         and p["point"]["hidden"] == q["hidden"] and p["point"]["batch"] == q["batch"]
                         and p["point"]["threads"] == q["threads"] and p.get("roofline")), None)
            if twin:
                share, _ = self.gemm_share(twin["roofline"], t["gemm"])
                if share is not None:
                    shares.append(share)
        return min(shares) if shares else None

    def gemm_share(self, ours, theirs):
        """The peer's GEMM rate over oneDNN's plain GEMM on the shapes both timed (FLOP-weighted by
        ffbench's runs per step), and a note; (None, why) when a side did not record its rate."""
        if not self.plain_rate(ours or {}):
            return None, "ffbench's ceiling not recorded"
        if not isinstance(theirs, dict) or not theirs.get("gflops"):
            return None, "PyTorch's GEMM rate not recorded"
        def by_shape(gemm, rate):
            return {(s["m"], s["n"], s["k"], bool(s.get("trans_a")), bool(s.get("trans_b"))): s
                    for s in gemm.get("shapes", []) if rate(s)}
        mine, peer = by_shape(ours, self.plain_rate), by_shape(theirs, lambda s: s.get("gflops"))
        common = [key for key in mine if key in peer]
        if not common:
            return theirs["gflops"] / self.plain_rate(ours), "different shapes"
        flops = {key: 2.0 * key[0] * key[1] * key[2] * mine[key].get("runs_per_step", 1) for key in common}
        seconds_ours = sum(flops[key] / self.plain_rate(mine[key]) for key in common)
        seconds_peer = sum(flops[key] / peer[key]["gflops"] for key in common)
        return seconds_ours / seconds_peer, ("" if len(common) == len(mine) else f"on {len(common)} of {len(mine)} shapes")

    def peer_marked(self, text, share):
        """A ratio as measured, marked when the peer's BLAS ran under PEER_GEMM_FAIR of oneDNN's rate."""
        if share is not None and share < self.PEER_GEMM_FAIR:
            return f"{text} (peer handicapped: BLAS at {100 * share:.0f} % of oneDNN)"
        return text

    @staticmethod
    def peer_blas_text(blas):
        if isinstance(blas, str):  # runs before issue 12 recorded only the libblas.so.3 path
            return f"`{'/'.join(blas.split('/')[-2:])}`, kernel not recorded"
        if not isinstance(blas, dict):
            return "not recorded"
        text = f"{blas.get('library') or '?'} {blas.get('corename') or ''}".strip()
        if blas.get("coretype_set_by_peer"):
            text += " (OPENBLAS_CORETYPE set by the peer)"
        elif blas.get("coretype_env"):
            text += " (the user's OPENBLAS_CORETYPE)"
        if blas.get("generic_kernel"):
            text += ", a generic kernel"
        if blas.get("exact") is False:
            text += ", WRONG RESULTS"
        return text

    @staticmethod
    def denormals_text(result):
        denormals = result.get("denormals")
        if not isinstance(denormals, dict) or not denormals.get("setting"):
            return "not recorded"
        text = denormals["setting"]
        if denormals.get("supported") is False:
            text += " (unsupported by the CPU)"
        if denormals.get("all_threads") is False:
            text += " (not on every thread)"
        return text

    def peers_section(self):
        """ffbench against the PyTorch peer: same experiment, algorithm, model, batch, threads, seed;
        beside each ratio, each side's BLAS, kernel, GEMM rate on the same shapes and denormal mode."""
        if not self.peers:
            skipped = [p for p in self.points if p["point"].get("engine") == "torch" and p.get("status") != "ok"]
            if skipped:
                self.lines += ["## Side by side with PyTorch", "", f"{len(skipped)} PyTorch points did not run: "
                               f"{skipped[0].get('detail', '')}", ""]
            return
        def key(p):
            q = p["point"]
            return (q["experiment"], q["algorithm"], tuple(q["hidden"]), q["batch"], q["threads"], q["seed"])
        def model_key(p):
            q = p["point"]
            return (q["algorithm"], tuple(q["hidden"]), q["batch"], q["threads"])
        ours = {}
        for p in self.ok:
            ours.setdefault(key(p), []).append(p)
        def throughput_twin(pool, p):
            """For a convergence point, a throughput point of the same model (the `peers` experiment first,
            the same options first): where a convergence pair finds the GEMM rates it did not measure."""
            same = [c for c in pool if c["point"]["measure"] == "throughput" and model_key(c) == model_key(p)]
            same.sort(key=lambda c: (c["point"]["experiment"] != "peers", c["point"]["options"] != p["point"]["options"]))
            return same[0] if same else None
        isa = f"oneDNN {self.manifest.get('onednn_version') or '?'} {self.manifest.get('onednn_isa') or '(ISA not recorded)'}"
        rows_throughput, rows_convergence = [], []
        accuracy_gaps, speed = defaultdict(list), defaultdict(list)
        for t in self.peers:
            candidates = ours.get(key(t), [])
            match = next((p for p in candidates if p["point"]["options"] == t["point"]["options"]), candidates[0] if candidates else None)
            if match is None:
                continue
            q = t["point"]
            ceiling_point = match if match.get("roofline") else throughput_twin(self.ok, match)
            ceiling = (ceiling_point or {}).get("roofline")
            peer_gemm = t.get("gemm") or (throughput_twin(self.peers, t) or {}).get("gemm")
            share, note = self.gemm_share(ceiling, peer_gemm)
            gemm_cell = (f"{fmt_num(self.plain_rate(ceiling)) if ceiling else 'not recorded'} / "
                         f"{fmt_num(peer_gemm['gflops']) if peer_gemm and peer_gemm.get('gflops') else 'not recorded'}")
            if peer_gemm and not t.get("gemm"):
                note = ", ".join(filter(None, [note, "PyTorch's from its throughput point"]))
            if share is not None:
                gemm_cell += f" ({100 * share:.0f} %{', ' + note if note else ''})"
            kernel_cell = f"{isa} / {self.peer_blas_text(t.get('blas'))}"
            denormal_cell = f"{self.denormals_text(match)} / {self.denormals_text(t)}"
            if q["measure"] == "throughput":
                ratio = match["train"]["samples_per_s_median"] / t["train"]["samples_per_s_median"]
                inference = ", ".join(f"{m}: {match['inference'][m]['samples_per_s_median'] / v['samples_per_s_median']:.1f}x"
                                      for m, v in t.get("inference", {}).items() if m in match.get("inference", {}))
                rows_throughput.append([q["algorithm"], t["model"], q["batch"], q["threads"],
                                        fmt_num(match["train"]["samples_per_s_median"]), fmt_num(t["train"]["samples_per_s_median"]),
                                        self.peer_marked(f"{ratio:.2f}x", share), self.peer_marked(inference, share) if inference else "",
                                        kernel_cell, gemm_cell, denormal_cell,
                                        f"{match['memory']['peak_rss'] / MiB:.0f} / {t['memory']['peak_rss'] / MiB:.0f}"])
                speed[q["algorithm"]].append((ratio, share))
            else:
                e_ours, e_theirs = match["epochs"][-1], t["epochs"][-1]
                per_epoch = (e_theirs["train_seconds"] / e_theirs["epoch"]) / (e_ours["train_seconds"] / e_ours["epoch"])
                gaps = []
                for m, acc in e_theirs["test_accuracy"].items():
                    if m in e_ours.get("test_accuracy", {}):
                        gap = 100 * (e_ours["test_accuracy"][m] - acc)
                        gaps.append(f"{m}: {100 * e_ours['test_accuracy'][m]:.2f}% vs {100 * acc:.2f}% ({gap:+.2f})")
                        accuracy_gaps[(q["algorithm"], m)].append(gap)
                rows_convergence.append([q["algorithm"], t["model"], q["seed"], e_ours["epoch"],
                                         f"{e_ours['train_seconds'] / e_ours['epoch']:.2f}", f"{e_theirs['train_seconds'] / e_theirs['epoch']:.2f}",
                                         self.peer_marked(f"{per_epoch:.2f}x", share), "; ".join(gaps), kernel_cell, gemm_cell,
                                         denormal_cell, f"{match['memory']['peak_rss'] / MiB:.0f} / {t['memory']['peak_rss'] / MiB:.0f}"])
                speed[q["algorithm"] + " (per epoch)"].append((per_epoch, share))
        blas_lines = sorted({f"{t['blas'].get('library')} '{t['blas'].get('corename')}' ({t['blas'].get('why')})"
                             if isinstance(t.get("blas"), dict) else self.peer_blas_text(t.get("blas")) for t in self.peers})
        self.lines += ["## Side by side with PyTorch", "",
                       f"The PyTorch peers (scripts/peers/torch_peer.py, torch {self.peers[0].get('torch_version')}) run the same "
                       "configurations in the same run on the same machine and thread count; thread pools: "
                       f"`{self.peers[0].get('thread_pools')}`. Ratios are ffbench over PyTorch (above 1: ffbench faster).", "",
                       "Beside each ratio, each side's f32 matrix-multiply engine and kernel, and its GEMM rate in GFLOP/s on the "
                       "matmul shapes of one ffbench training step of that configuration: oneDNN's plain-layout GEMM from "
                       "ffbench's ceiling (its throughput point; the ceiling's blocked layouts are left out, as a BLAS has none), "
                       "and `torch.mm` on the same shapes timed the same way by the peer in the same run "
                       "(the percentage is PyTorch's rate over oneDNN's). A ratio whose peer GEMM rate is under "
                       f"{100 * self.PEER_GEMM_FAIR:.0f} % of oneDNN's is marked *peer handicapped*: it measures the BLAS "
                       "more than the framework. 'not recorded': a result file from before these fields existed.", "",
                       "PyTorch's BLAS in this run: " + "; ".join(blas_lines) + ".", ""]
        if rows_throughput:
            self.table(["algorithm", "model", "B", "threads", "ffbench train samples/s", "PyTorch", "ffbench / PyTorch",
                        "inference ratio", "GEMM engine and kernel (ffbench / PyTorch)", "GEMM GFLOP/s (ffbench / PyTorch)",
                        "denormals (ffbench / PyTorch)", "peak RSS MiB (ffbench / PyTorch)"], rows_throughput)
        if rows_convergence:
            self.table(["algorithm", "model", "seed", "epochs", "ffbench s/epoch", "PyTorch s/epoch", "speed-up per epoch",
                        "final test accuracy, ffbench vs PyTorch (points)", "GEMM engine and kernel (ffbench / PyTorch)",
                        "GEMM GFLOP/s (ffbench / PyTorch)", "denormals (ffbench / PyTorch)", "peak RSS MiB"], rows_convergence)
        for name, pairs in sorted(speed.items()):
            fair = [r for r, share in pairs if share is not None and share >= self.PEER_GEMM_FAIR]
            handicapped = [(r, share) for r, share in pairs if share is not None and share < self.PEER_GEMM_FAIR]
            unknown = [r for r, share in pairs if share is None]
            if fair:
                self.findings.append(f"ffbench {name} is {med(fair):.2f}x as fast as the same configuration in PyTorch "
                                     f"(median of {len(fair)} pairing{'s' if len(fair) > 1 else ''} whose PyTorch GEMM ran at {self.PEER_GEMM_FAIR * 100:.0f} % "
                                     "or more of oneDNN's rate on the same shapes).")
            if handicapped:
                self.findings.append(f"ffbench {name} measured {med([r for r, _ in handicapped]):.2f}x PyTorch's speed, but the "
                                     f"peer was handicapped: its BLAS ran at {100 * med([s for _, s in handicapped]):.0f} % of oneDNN's "
                                     f"GEMM rate on the same shapes (median of {len(handicapped)} pairing{'s' if len(handicapped) > 1 else ''}), so this is largely a BLAS "
                                     "gap, not a framework's.")
            if unknown:
                self.findings.append(f"ffbench {name} is {med(unknown):.2f}x as fast as the same configuration in PyTorch "
                                     f"(median of {len(unknown)} pairing{'s' if len(unknown) > 1 else ''}; PyTorch's GEMM rate not recorded, so a handicapped BLAS "
                                     "is not ruled out).")
        for (algorithm, mode), gaps in sorted(accuracy_gaps.items()):
            self.findings.append(f"After the same epochs, ffbench {algorithm} ({mode}) is {med(gaps):+.2f} points of test "
                                 f"accuracy from PyTorch's (median over seeds).")

    def published(self):
        self.lines += ["## Published figures beside ours", "",
                       "From reports/PUBLISHED.md, which gives each source (setups differ from ours; see the setup column).", ""]
        self.table(["source and setup", "figure", "published"], [list(r) for r in PUBLISHED])
        ours = []
        for p in self.ok:
            if p["point"]["measure"] == "convergence" and p.get("final_accuracy"):
                for mode, acc in p["final_accuracy"].items():
                    ours.append([f"ffbench {p['point']['label']} {p['model']}, batch {p['point']['batch']}, "
                                 f"{p['epochs'][-1]['epoch']} epochs, seed {p['point']['seed']}, {p['point']['dataset']}",
                                 f"test error ({mode})", f"{100 * (1 - acc):.2f}%"])
        if ours:
            self.lines.append("Ours, this run:\n")
            self.table(["setup", "figure", "measured"], ours)

    # ---- the PyTorch reference's published setup, reproduced ------------------------------------
    def reference_section(self):
        points = [p for p in self.points if p.get("status") == "ok" and p["point"]["experiment"] == "reference"]
        if not points:
            return
        published_error = 6.84  # reports/PUBLISHED.md: mpezeshki/pytorch_forward_forward, test error
        self.lines += ["## The PyTorch reference's published setup, in both engines", "",
                       "reports/PUBLISHED.md: mpezeshki's PyTorch reference reports **6.84%** test error with [784,500,500], "
                       "one full batch of 50,000, each layer trained 1000 steps before the next, Adam 0.03, threshold 2 on "
                       "the mean of squares, prediction summing goodness over all layers. Both engines ran that setup here "
                       "(standardized pixels, L2 input normalisation, the image maximum as label value). One difference, by "
                       "design: negatives are uniform over the *wrong* labels; the reference permutes labels, so about one "
                       "negative in ten carries the true label.", ""]
        rows = []
        for p in sorted(points, key=lambda q: q["point"].get("engine", "ffbench")):
            last = p["epochs"][-1]
            steps = last["epoch"] * (p.get("train_samples", 0) // p["point"]["batch"] or 1)
            for mode, acc in last["test_accuracy"].items():
                error = 100 * (1 - acc)
                rows.append([p["point"].get("engine", "ffbench"), p.get("model"), mode, f"{error:.2f}%",
                             f"{published_error:.2f}%", f"{error - published_error:+.2f}", steps,
                             f"{last['train_seconds']:.0f} s ({last['train_seconds'] / 60:.1f} min)",
                             f"{1000 * last['train_seconds'] / steps:.0f} ms", f"{p['memory']['peak_rss'] / MiB:.0f}"])
        self.table(["engine", "model", "prediction", "test error", "published", "difference (points)", "steps",
                    "training time", "per step", "peak RSS MiB"], rows)
        by_engine = {p["point"].get("engine", "ffbench"): p for p in points}
        if "ffbench" in by_engine and "torch" in by_engine:
            ours, theirs = by_engine["ffbench"]["epochs"][-1], by_engine["torch"]["epochs"][-1]
            self.findings.append(
                f"The PyTorch reference's setup (full batch 50,000, 1000 steps per layer): ffbench {100 * (1 - ours['test_accuracy']['goodness']):.2f}% "
                f"and PyTorch {100 * (1 - theirs['test_accuracy']['goodness']):.2f}% test error (published 6.84%), in "
                f"{ours['train_seconds'] / 60:.1f} and {theirs['train_seconds'] / 60:.1f} minutes of training "
                f"({theirs['train_seconds'] / ours['train_seconds']:.2f}x).")

    # ---- published setups reproduced (experiments with a "published" field) ----------------------
    def reproduction_section(self):
        points = [p for p in self.points if (p.get("point") or {}).get("published") and p["point"]["measure"] == "convergence"
                  and p["point"].get("engine", "ffbench") == "ffbench"]
        if not points:
            return
        groups = defaultdict(list)
        for p in points:
            groups[(p["point"]["experiment"], p["point"]["label"])].append(p)
        rows, met, judged = [], 0, 0
        for (experiment, label), runs in sorted(groups.items()):
            finished = [p for p in runs if p.get("status") == "ok" and p.get("final_accuracy")]
            first = runs[0]["point"]
            setup = (f"{first['dataset']}, {runs[0].get('model') or first['hidden']}, batch {first['batch']}, "
                     f"{first['epochs']} epochs")
            for published in first["published"]:
                modes = [published["mode"]] if published.get("mode") else sorted({m for p in finished for m in p["final_accuracy"]})
                for mode in modes or ["n/a"]:
                    errors = [1 - p["final_accuracy"][mode] for p in finished if mode in p["final_accuracy"]]
                    if errors:
                        judged += 1
                        status = "met" if med(errors) <= published["band"] else "missed"
                        met += status == "met"
                        ours, spread = f"{100 * med(errors):.2f}%", f"{100 * min(errors):.2f}..{100 * max(errors):.2f}%"
                    else:
                        status, ours, spread = "not run", "n/a", "n/a"
                    rows.append([f"`{experiment}`", label, setup, mode, f"{len(errors)}/{len(runs)}", ours, spread,
                                 f"{100 * published['test_error']:.2f}%", f"<= {100 * published['band']:.2f}%", status,
                                 published["source"] + (f" ({published['note']})" if published.get("note") else "")])
        self.lines += ["## Published setups, reproduced", "",
                       "Each experiment with a `published` figure (bench/suites/README.md): our test error of the final "
                       "model (after the last epoch; the test split is evaluated once per run when the experiment has a "
                       "validation split), median over seeds and the min..max spread, beside the published figure and the "
                       "band (the highest test error that counts as reproduced). 'met' when the median is inside the band.", ""]
        self.table(["experiment", "algorithm", "setup", "prediction", "seeds", "ours (median)", "spread", "published",
                    "band", "status", "source"], rows)
        if judged:
            self.findings.append(f"Published setups reproduced: {met} of {judged} figures within their bands "
                                 "(median test error over seeds; see the reproduction table).")

    # ---- equal-budget tuning (measure "tune"): successive halving on the validation split -------
    @staticmethod
    def tune_score(p):
        """The trial's score, as ffbench ranks it: the best mode's validation accuracy at its final epoch."""
        if p.get("status") not in ("ok", "collapsed") or not p.get("epochs"):
            return -1.0
        return max((p["epochs"][-1].get("validation_accuracy") or {"": -1.0}).values())

    def tune_section(self):
        trials = [p for p in self.points if (p.get("point") or {}).get("measure") == "tune"]
        groups = defaultdict(list)
        for p in trials:
            groups[p["point"]["experiment"]].append(p)
        for experiment, points in sorted(groups.items()):
            tune = points[0]["point"]["tune"]
            budgets = tune["budgets"]
            counts, n = [], tune["trials"]
            for _ in budgets:
                counts.append(n)
                n = -(-n // tune["eta"])
            spent = sum(c * b for c, b in zip(counts, budgets))
            self.lines += [f"## Tuning: `{experiment}`", "",
                           f"Equal-budget search, the same for every algorithm: {tune['trials']} configurations drawn from each "
                           f"algorithm's search space (seed {tune['seed']}), then successive halving over {tune['rungs']} rung(s) "
                           f"with eta {tune['eta']}: rung r trains {', '.join(f'{c} trial(s) for {b} epoch(s)' for c, b in zip(counts, budgets))}, "
                           f"each from scratch in its own process, and the best 1/{tune['eta']} of a rung go on. {spent} epochs per "
                           "algorithm in all. A trial's score is the validation accuracy of its best prediction mode at its final "
                           f"epoch (validation split: {points[0]['point'].get('validation')} samples carved from the end of the "
                           "training split); the test split is evaluated once per trial and shown only for the chosen configuration.", ""]
            rows = []
            for label in sorted({p["point"]["label"] for p in points}):
                mine = [p for p in points if p["point"]["label"] == label and p.get("status") in ("ok", "collapsed")]
                if not mine:
                    rows.append([label, "no finished trial", "", "", "", "", ""])
                    continue
                top = max(p["point"]["tune"]["rung"] for p in mine)
                best = max((p for p in mine if p["point"]["tune"]["rung"] == top),
                           key=lambda p: (self.tune_score(p), -p["point"]["tune"]["trial"]))
                validation = best["epochs"][-1].get("validation_accuracy", {})
                mode = max(validation, key=validation.get) if validation else "n/a"
                test = (best.get("final_accuracy") or {}).get(mode)
                rows.append([label, f"`{json.dumps(best['point']['tune']['config'], sort_keys=True)}`", f"trial {best['point']['tune']['trial']}, "
                             f"rung {top} ({best['point']['epochs']} epochs)", mode, f"{100 * self.tune_score(best):.2f}%",
                             f"{100 * test:.2f}%" if test is not None else "n/a",
                             f"{sum(p['epochs'][-1]['train_seconds'] for p in mine if p.get('epochs')):.0f} s"])
                all_done = len([p for p in points if p["point"]["label"] == label]) == sum(counts)
                if not all_done or top + 1 < tune["rungs"]:
                    rows[-1][2] += " (search unfinished)"
            self.lines.append("Each algorithm at its best configuration (chosen by validation accuracy in the last rung reached):\n")
            self.table(["algorithm", "best configuration", "found as", "prediction", "validation acc", "test acc (final model)",
                        "training time, all trials"], rows)
            trial_rows = []
            fig, ax = plt.subplots(figsize=(7, 4.2))
            for label in sorted({p["point"]["label"] for p in points}):
                mine = sorted((p for p in points if p["point"]["label"] == label),
                              key=lambda p: (p["point"]["tune"]["rung"], -self.tune_score(p)))
                per_trial = defaultdict(list)
                for p in mine:
                    t = p["point"]["tune"]
                    validation = (p.get("epochs") or [{}])[-1].get("validation_accuracy", {})
                    promoted = any(q["point"]["tune"].get("promoted_from") == p["id"] for q in points)
                    trial_rows.append([label, t.get("trial", "?"), t["rung"], p["point"]["epochs"],
                                       f"`{json.dumps(t.get('config'), sort_keys=True)}`",
                                       ", ".join(f"{m} {100 * a:.2f}%" for m, a in sorted(validation.items())) or "n/a",
                                       p.get("status"), "yes" if promoted else ""])
                    if p.get("status") in ("ok", "collapsed") and t.get("trial") is not None:
                        per_trial[t["trial"]].append((p["point"]["epochs"], 100 * self.tune_score(p)))
                color = None
                for trial, series in sorted(per_trial.items()):
                    series.sort()
                    line, = ax.plot([x for x, _ in series], [y for _, y in series], marker="o", alpha=0.7, color=color,
                                    label=label if color is None else None)
                    color = line.get_color()
            ax.set_xlabel("epochs trained (rung budget)")
            ax.set_ylabel("validation accuracy, best mode (%)")
            ax.set_title(f"{experiment}: successive halving, one line per trial")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            self.lines.append("Every trial (configuration, rung, validation accuracy at its final epoch per prediction mode, "
                              "and whether it went on to the next rung):\n")
            self.table(["algorithm", "trial", "rung", "epochs", "configuration", "validation acc", "status", "promoted"], trial_rows)
            self.save(fig, f"tune_{experiment}.png", "validation accuracy of every trial per rung")

    # ---- issue 7's performance targets, each with its measured figure --------------------------
    def targets_section(self):
        rows = []
        throughput = [p for p in self.ok if p["point"]["measure"] == "throughput"]
        def option(p, name, default):
            return p["point"].get("options", {}).get(name, default)
        def plain(p):  # f32, the default schedule
            return option(p, "precision", "f32") == "f32" and option(p, "schedule", "simultaneous") == "simultaneous"
        top_threads = max([p["point"]["threads"] for p in throughput], default=0)
        for algorithm in ("bp", "ff"):
            wide = [p for p in throughput if p["point"]["algorithm"] == algorithm and plain(p) and option(p, "classifier", True)
                    and min(p["point"]["hidden"]) >= 1000 and p["point"]["batch"] >= 256 and p["point"]["threads"] == top_threads]
            for p in sorted(wide, key=lambda q: (q["point"]["hidden"], q["point"]["batch"])):
                fraction = p["train"]["roofline_fraction"]
                rows.append([f"{algorithm} f32 step >= 85% of the GEMM roofline (width >= 1000, B >= 256)",
                             f"{p['model']}, B {p['point']['batch']} ({p['point']['experiment']}): {100 * fraction:.0f}%",
                             "met" if fraction >= 0.85 else "missed"])
            small = [p for p in throughput if p["point"]["algorithm"] == algorithm and plain(p) and p["point"]["hidden"] == [500, 500]
                     and p["point"]["batch"] >= 256 and p["point"]["threads"] == top_threads and p["point"]["label"] == algorithm]
            for p in small:
                fraction = p["train"]["roofline_fraction"]
                rows.append([f"{algorithm} f32 step >= 70% of the roofline, [784,500,500], B >= 256",
                             f"B {p['point']['batch']} ({p['point']['experiment']}): {100 * fraction:.0f}%",
                             "met" if fraction >= 0.70 else "missed"])
        per_epoch = defaultdict(list)
        ours = {(p["point"]["experiment"], p["point"]["algorithm"], p["point"]["seed"], json.dumps(p["point"]["options"], sort_keys=True)): p
                for p in self.ok if p["point"]["measure"] == "convergence"}
        for t in self.peers:
            q = t["point"]
            match = ours.get((q["experiment"], q["algorithm"], q["seed"], json.dumps(q["options"], sort_keys=True)))
            if q["measure"] == "convergence" and match and q["experiment"] != "reference":
                a, b = match["epochs"][-1], t["epochs"][-1]
                per_epoch[q["algorithm"]].append((b["train_seconds"] / b["epoch"]) / (a["train_seconds"] / a["epoch"]))
        for algorithm, ratios in sorted(per_epoch.items()):
            share = self.peer_gemm_share(algorithm)
            text = self.peer_marked(f"{med(ratios):.2f}x (median of {len(ratios)})", share)
            verdict = "met" if med(ratios) >= 2 else "missed"
            if share is not None and share < 0.8:
                verdict += " (against a handicapped peer: not a fair comparison)"
            rows.append([f"{algorithm}: >= 2x PyTorch per epoch", text, verdict])
        if throughput:
            rows.append(["weights in oneDNN's preferred (blocked) layout where it pays",
                         "not implemented: weights stay row-major; the ceiling includes the blocked layout where oneDNN "
                         "is faster with it, so the gap shows in the fractions", "not done"])
        for p in throughput:
            if p["point"]["label"] in ("bp", "ff") and p["point"]["hidden"] == [2000, 2000] and p["point"]["batch"] >= 256 \
                    and p["point"]["experiment"] == "precision":
                step_ms = p["train"]["step_ms_median"]
                outside = max(0.0, 1 - p["train"]["roofline_fraction"])
                rows.append([f"{p['point']['label']}: elementwise work fused (share of the step outside the GEMMs)",
                             f"{p['model']}, B {p['point']['batch']}: {100 * outside:.0f}% of {step_ms:.1f} ms", "see profile"])
        for p in throughput:
            inference = p.get("inference", {})
            if p["point"]["label"] == "ff" and p["point"]["hidden"] == [500, 500] and "goodness" in inference and "softmax" in inference:
                ratio = inference["softmax"]["samples_per_s_median"] / inference["goodness"]["samples_per_s_median"]
                flops = p["flops_per_sample"]["inference"]
                rows.append(["ff goodness prediction <= 4x one-pass (MNIST shape)",
                             f"{ratio:.2f}x in time, {flops['goodness'] / flops['softmax']:.2f}x in matmul FLOPs "
                             f"({p['point']['experiment']}, B {p['point']['batch']})", "met" if ratio <= 4 else "missed"])
                break
        depth = [p for p in throughput if p["point"]["experiment"] == "depth"]
        slopes = {}
        for label in sorted({p["point"]["label"] for p in depth}):
            series = sorted((len(p["point"]["hidden"]), p["memory"]["peak_live_activations"]) for p in depth if p["point"]["label"] == label)
            s = slope([x for x, _ in series], [y for _, y in series])
            if s is not None:
                slopes[label] = s
        if slopes:
            text = ", ".join(f"{label} {fmt_num(s / 1024)} KiB/layer" for label, s in sorted(slopes.items()))
            flat = [l for l in slopes if l.startswith("ff") and "bp" in slopes and abs(slopes[l]) <= 0.1 * abs(slopes["bp"])]
            rows.append(["peak live activations: ff flat with depth, bp linear (slopes)", text,
                         ("met for " + ", ".join(flat)) if flat else "missed"])
        precision = {p["point"]["label"]: p for p in throughput if p["point"]["experiment"] == "precision"}
        for algorithm in ("bp", "ff"):
            if algorithm in precision and f"{algorithm}-bf16" in precision:
                speedup = precision[f"{algorithm}-bf16"]["train"]["samples_per_s_median"] / precision[algorithm]["train"]["samples_per_s_median"]
                rows.append([f"{algorithm} bf16 >= 3x f32 train throughput at width 2000",
                             f"{speedup:.2f}x ({precision[algorithm]['model']}, B {precision[algorithm]['point']['batch']}; "
                             f"oneDNN ISA {self.manifest.get('onednn_isa')})", "met" if speedup >= 3 else "missed"])
        convergence = [p for p in self.ok if p["point"]["measure"] == "convergence"]
        def final(label, seed=1):
            for p in convergence:
                if p["point"]["label"] == label and p["point"]["seed"] == seed and p["epochs"]:
                    return p
            return None
        for variant, base, what in (("bp-bf16", "bp", "bf16"), ("ff-bf16", "ff", "bf16"), ("ff-pipelined", "ff", "pipelined")):
            v, b = final(variant), final(base)
            if v and b and v["epochs"][-1]["epoch"] == b["epochs"][-1]["epoch"]:
                gaps = ", ".join(f"{m}: {100 * v['epochs'][-1]['test_accuracy'][m]:.2f}% vs {100 * acc:.2f}% "
                                 f"({100 * (v['epochs'][-1]['test_accuracy'][m] - acc):+.2f})"
                                 for m, acc in b["epochs"][-1]["test_accuracy"].items() if m in v["epochs"][-1]["test_accuracy"])
                speed = (b["epochs"][-1]["train_seconds"]) / (v["epochs"][-1]["train_seconds"])
                rows.append([f"{what} against {base}: test accuracy after the same {b['epochs'][-1]['epoch']} epochs (seed 1), epoch speed",
                             f"{gaps}; {speed:.2f}x the epoch speed", "measured"])
        schedule = [p for p in throughput if p["point"]["experiment"] == "schedule"]
        for depth_value in sorted({len(p["point"]["hidden"]) for p in schedule}):
            at = {p["point"]["label"]: p for p in schedule if len(p["point"]["hidden"]) == depth_value}
            if "ff" in at and "ff-pipelined" in at:
                ratio = at["ff-pipelined"]["train"]["samples_per_s_median"] / at["ff"]["train"]["samples_per_s_median"]
                rows.append(["pipelined ff schedule against simultaneous (train throughput)",
                             f"{at['ff']['model']}, B {at['ff']['point']['batch']}, {at['ff']['point']['threads']} threads: {ratio:.2f}x",
                             "measured"])
        threads = [p for p in throughput if p["point"]["experiment"] == "threads"]
        for label in sorted({p["point"]["label"] for p in threads}):
            series = sorted((p["point"]["threads"], p["train"]["samples_per_s_median"]) for p in threads if p["point"]["label"] == label)
            if len(series) >= 2 and series[0][0] == 1:
                n, rate = series[-1]
                efficiency = rate / (series[0][1] * n)
                rows.append([f"{label}: thread efficiency 1 -> N (goal 70% at 16 threads, width 2000)",
                             f"{100 * efficiency:.0f}% at {n} threads ({points_model(threads, label)})",
                             "not measurable here" if n < 16 else ("met" if efficiency >= 0.7 else "missed")])
        if not rows:
            return
        self.lines += ["## Performance targets, each with its measured figure", "",
                       "Every figure is computed from this run's result files. A 'missed' row is a measured shortfall: "
                       "`scripts/profile_step.sh FILTER` profiles that step (oneDNN, our kernels, the OpenMP runtime) to "
                       "show where the time goes.", ""]
        self.table(["target", "measured", "status"], rows)

    def write(self):
        self.header()
        self.reproduction_section()
        self.reference_section()
        self.targets_section()
        self.tune_section()
        self.convergence()
        self.throughput()
        self.roofline_plot()
        self.peers_section()
        self.drift_section()
        report_distributed.section(self)
        self.published()
        self.lead_time_to_accuracy()
        findings = ["## FF's speed and scalability limits", "",
                    "Each sentence is computed from this run's result files.", ""]
        findings += [f"- {f}" for f in self.lead_findings + self.findings] or \
            ["- (this run has no points from which to compute findings)"]
        # Findings go right after the suite section so a reader sees them first.
        index = next((i for i, line in enumerate(self.lines) if line.startswith("## ") and "Suite" not in line
                      and "Machine" not in line), len(self.lines))
        self.lines[index:index] = findings + [""]
        path = os.path.join(self.out, "REPORT.md")
        with open(path + ".tmp", "w") as f:
            f.write("\n".join(self.lines) + "\n")
        os.replace(path + ".tmp", path)
        return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run folder made by 'ffbench run' (reports/runs/<time>-<revision>)")
    parser.add_argument("--out", help="where to write REPORT.md and plots/ (default: the run folder)")
    parser.add_argument("--check", action="store_true",
                        help="only check the run's data: exit 1 when any efficiency exceeds 100 %% of its ceiling")
    args = parser.parse_args()
    if not os.path.isdir(args.run):
        sys.exit(f"report.py: {args.run} is not a folder; give a run folder under reports/runs/")
    if args.check:
        report = Report(args.run, args.out or os.path.join("/tmp", "ffbench-report-check"))
        over = report.fractions_over_one()
        for point, what, fraction in over:
            print(f"report.py: {point}: {what} at {100 * fraction:.1f}% of its ceiling (a ceiling cannot be exceeded: a bug)")
        print(f"report.py: {len(report.ok)} points checked, {len(over)} efficiencies above 100%")
        sys.exit(1 if over else 0)
    report = Report(args.run, args.out or args.run)
    path = report.write()
    print(f"report.py: wrote {path} with {len(report.plots)} plots")


if __name__ == "__main__":
    main()
