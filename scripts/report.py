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

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("report.py: matplotlib is missing. Run scripts/setup.sh (installs python3-matplotlib) and use /usr/bin/python3.")

# Published figures (../shared/REFERENCES.md), quoted with their sources, shown beside ours.
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
            ["threading", m.get("threading")], ["revision", f"{m.get('revision')}{' (dirty)' if m.get('dirty') else ''}"],
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
        bad = [p for p in self.points if p.get("status") in ("failed", "diverged")]
        if bad:
            self.lines.append("Points that did not finish normally:\n")
            self.table(["point", "status", "detail"], [[p["id"], p["status"], str(p.get("detail", ""))[:160]] for p in bad])

    def convergence(self):
        groups = self.by_experiment("convergence")
        for experiment, points in sorted(groups.items()):
            self.lines += [f"## Convergence: `{experiment}`", ""]
            model = points[0].get("model")
            self.lines.append(f"Model {model}, batch {points[0]['point']['batch']}, "
                              f"{points[0].get('train_samples')} training / {points[0].get('test_samples')} test samples. "
                              "Training wall time excludes evaluation; median over seeds, band = min..max.\n")
            curves = defaultdict(list)  # (label, mode) -> list of per-seed [(epoch, seconds, acc)]
            for p in points:
                for mode in p.get("modes", []):
                    curve = [(e["epoch"], e["train_seconds"], e["test_accuracy"][mode]) for e in p["epochs"] if "test_accuracy" in e]
                    curves[(p["point"]["label"], mode)].append(curve)
            rows = []
            for (label, mode), seeds in sorted(curves.items()):
                finals = [c[-1][2] for c in seeds if c]
                per_epoch = [c[-1][1] / c[-1][0] for c in seeds if c]
                rows.append([label, mode, len(seeds), f"{100 * med(finals):.2f}%",
                             f"{100 * min(finals):.2f}..{100 * max(finals):.2f}%", seeds[0][-1][0] if seeds[0] else 0,
                             f"{med(per_epoch):.2f}"])
            self.table(["algorithm", "prediction", "seeds", "final test acc (median)", "spread", "epochs", "s/epoch"], rows)
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
                ax.set_ylabel("test accuracy (%)")
                ax.set_title(f"{experiment}: test accuracy vs {'wall time' if xaxis == 1 else 'epochs'}")
                ax.grid(alpha=0.3)
                ax.legend(fontsize=8)
                self.save(fig, f"accuracy_vs_{name}_{experiment}.png", f"accuracy vs {name}")
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
        self.lines.append("Time to target test accuracy (median over seeds; training wall time and epochs):\n")
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

        for target in (0.97, 0.95):
            bp, ff = time_to("bp", target), time_to("ff", target)
            if bp and ff:
                bp_s = med([s for _, s, _ in bp])
                by_mode = defaultdict(list)
                for mode, s, _ in ff:
                    by_mode[mode].append(s)
                mode, times = min(by_mode.items(), key=lambda kv: med(kv[1]))
                self.findings.append(
                    f"To reach {100 * target:g}% test accuracy ({experiment}), FF needed {med(times) / bp_s:.1f}x BP's training "
                    f"wall time: {med(times):.1f} s with {mode} prediction against BP's {bp_s:.1f} s (medians over seeds).")
                break
            if bp and not ff:
                ff_final = [c[-1][2] for (label, _), seeds in curves.items() if label == "ff" for c in seeds if c]
                if ff_final:
                    self.findings.append(
                        f"BP reached {100 * target:g}% test accuracy in {med([s for _, s, _ in bp]):.1f} s ({experiment}); FF did "
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
                              "the analytic FLOPs, and the fraction of the oneDNN f32 GEMM roofline measured on the same "
                              "shapes in the same process.\n")
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

    def peers_section(self):
        """ffbench against the PyTorch peer: same experiment, algorithm, model, batch, threads, seed."""
        if not self.peers:
            skipped = [p for p in self.points if p["point"].get("engine") == "torch" and p.get("status") != "ok"]
            if skipped:
                self.lines += ["## Side by side with PyTorch", "", f"{len(skipped)} PyTorch points did not run: "
                               f"{skipped[0].get('detail', '')}", ""]
            return
        def key(p):
            q = p["point"]
            return (q["experiment"], q["algorithm"], tuple(q["hidden"]), q["batch"], q["threads"], q["seed"])
        ours = {}
        for p in self.ok:
            ours.setdefault(key(p), []).append(p)
        rows_throughput, rows_convergence = [], []
        accuracy_gaps, speed = defaultdict(list), defaultdict(list)
        for t in self.peers:
            candidates = ours.get(key(t), [])
            match = next((p for p in candidates if p["point"]["options"] == t["point"]["options"]), candidates[0] if candidates else None)
            if match is None:
                continue
            q = t["point"]
            if q["measure"] == "throughput":
                ratio = match["train"]["samples_per_s_median"] / t["train"]["samples_per_s_median"]
                inference = ", ".join(f"{m}: {match['inference'][m]['samples_per_s_median'] / v['samples_per_s_median']:.1f}x"
                                      for m, v in t.get("inference", {}).items() if m in match.get("inference", {}))
                rows_throughput.append([q["algorithm"], t["model"], q["batch"], q["threads"],
                                        fmt_num(match["train"]["samples_per_s_median"]), fmt_num(t["train"]["samples_per_s_median"]),
                                        f"{ratio:.2f}x", inference, f"{match['memory']['peak_rss'] / MiB:.0f} / {t['memory']['peak_rss'] / MiB:.0f}"])
                speed[q["algorithm"]].append(ratio)
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
                                         f"{per_epoch:.2f}x", "; ".join(gaps),
                                         f"{match['memory']['peak_rss'] / MiB:.0f} / {t['memory']['peak_rss'] / MiB:.0f}"])
                speed[q["algorithm"] + " (per epoch)"].append(per_epoch)
        self.lines += ["## Side by side with PyTorch", "",
                       f"The PyTorch peers (scripts/peers/torch_peer.py, torch {self.peers[0].get('torch_version')}) run the same "
                       "configurations in the same run on the same machine and thread count; thread pools: "
                       f"`{self.peers[0].get('thread_pools')}`. Ratios are ffbench over PyTorch (above 1: ffbench faster).", ""]
        if rows_throughput:
            self.table(["algorithm", "model", "B", "threads", "ffbench train samples/s", "PyTorch", "ffbench / PyTorch",
                        "inference ratio", "peak RSS MiB (ffbench / PyTorch)"], rows_throughput)
        if rows_convergence:
            self.table(["algorithm", "model", "seed", "epochs", "ffbench s/epoch", "PyTorch s/epoch", "speed-up per epoch",
                        "final test accuracy, ffbench vs PyTorch (points)", "peak RSS MiB"], rows_convergence)
        for name, ratios in sorted(speed.items()):
            self.findings.append(f"ffbench {name} is {med(ratios):.2f}x as fast as the same configuration in PyTorch "
                                 f"(median of {len(ratios)} pairings).")
        for (algorithm, mode), gaps in sorted(accuracy_gaps.items()):
            self.findings.append(f"After the same epochs, ffbench {algorithm} ({mode}) is {med(gaps):+.2f} points of test "
                                 f"accuracy from PyTorch's (median over seeds).")

    def published(self):
        self.lines += ["## Published figures beside ours", "",
                       "From ../shared/REFERENCES.md (setups differ from ours; see the setup column).", ""]
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
        published_error = 6.84  # REFERENCES.md: mpezeshki/pytorch_forward_forward, test error
        self.lines += ["## The PyTorch reference's published setup, in both engines", "",
                       "REFERENCES.md: mpezeshki's PyTorch reference reports **6.84%** test error with [784,500,500], "
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
            rows.append([f"{algorithm}: >= 2x PyTorch per epoch", f"{med(ratios):.2f}x (median of {len(ratios)})",
                         "met" if med(ratios) >= 2 else "missed"])
        if throughput:
            rows.append(["weights in oneDNN's preferred (blocked) layout where it pays",
                         "not implemented: weights stay row-major and the roofline is the row-major GEMM; "
                         "bench_micro's matmul/onednn_blocked_weights measures what blocking would give", "not done"])
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
        self.lines += ["## Performance targets (issue 7), each with its measured figure", "",
                       "Every figure is computed from this run's result files; 'missed' targets are explained in the closing "
                       "note with a profile.", ""]
        self.table(["target", "measured", "status"], rows)

    def write(self):
        self.header()
        self.reference_section()
        self.targets_section()
        self.convergence()
        self.throughput()
        self.roofline_plot()
        self.peers_section()
        self.published()
        findings = ["## FF's speed and scalability limits", "",
                    "Each sentence is computed from this run's result files.", ""]
        findings += [f"- {f}" for f in self.findings] or ["- (this run has no points from which to compute findings)"]
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
    args = parser.parse_args()
    if not os.path.isdir(args.run):
        sys.exit(f"report.py: {args.run} is not a folder; give a run folder under reports/runs/")
    report = Report(args.run, args.out or args.run)
    path = report.write()
    print(f"report.py: wrote {path} with {len(report.plots)} plots")


if __name__ == "__main__":
    main()
