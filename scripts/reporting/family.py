"""The report's "The algorithm family" section (scripts/report.py calls it): every experiment that
measures four or more algorithms side by side (the suites' `family` and `family-speed`), one row per
algorithm label: accuracy and time per epoch from convergence points; speed, the roofline fraction,
FLOPs per phase, memory and layer-locality from throughput points. The algorithms' summaries and
distributed modes come from the run's manifest (`ffbench list --json`, written by `ffbench run`).
"""
import json
import os
import statistics
import subprocess

MiB = 1024.0 * 1024.0
MIN_ALGORITHMS = 4


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def family_experiments(points, measure):
    groups = {}
    for p in points:
        if p["point"]["measure"] == measure and p["point"].get("distributed", "none") == "none":
            groups.setdefault(p["point"]["experiment"], []).append(p)
    return {e: ps for e, ps in groups.items() if len({p["point"]["algorithm"] for p in ps}) >= MIN_ALGORITHMS}


def published_figures(algorithms):
    """name -> [published accuracy], from the run's manifest; a run made before the registry carried
    them gets them from this checkout's `ffbench list --json` (citations, not measurements)."""
    if any("published" in a for a in algorithms.values()):
        return {n: a.get("published", []) for n, a in algorithms.items()}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ffbench = os.path.join(root, "build", "release", "bench", "ffbench")
    if not os.access(ffbench, os.X_OK):
        return {}
    done = subprocess.run([ffbench, "list", "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        return {}
    return {a["name"]: a.get("published", []) for a in json.loads(done.stdout).get("algorithms", [])}


def published_cell(figures, dataset):
    mine = [f for f in figures if f.get("dataset") == dataset]
    return "; ".join(f"{100 * f['accuracy']:.2f}% ({f['setup']}; {f['source']})" for f in mine) or "-"


def locality(info):
    """Whether the algorithm's layers learn locally (could be pipelined over devices), from the manifest:
    its `layer_local` field (`ffbench list --json`); runs recorded before the field have only the prose."""
    if not info:
        return "?"
    if "layer_local" in info:
        return "layer-local" if info["layer_local"] else "end to end"
    pipeline = info.get("pipeline", "")
    if pipeline == "with its defaults" or "schedule=pipelined" in pipeline or "no pipelined schedule yet" in pipeline:
        return "layer-local"
    return "end to end"


def best_mode(point):
    accuracy = point.get("final_accuracy") or {}
    if not accuracy:
        return None, None
    mode = max(accuracy, key=lambda m: accuracy[m])
    return mode, accuracy[mode]


def convergence_rows(points, published):
    rows, summary = [], {}
    for label in sorted({p["point"]["label"] for p in points}, key=lambda l: (l not in ("bp", "ff"), l)):
        mine = [p for p in points if p["point"]["label"] == label]
        scored = [best_mode(p) for p in mine]
        accuracies = [a for _, a in scored if a is not None]
        modes = sorted({m for m, _ in scored if m})
        per_epoch = med([p["epochs"][-1]["train_seconds"] / p["epochs"][-1]["epoch"] for p in mine if p.get("epochs")])
        epochs = max((p["epochs"][-1]["epoch"] for p in mine if p.get("epochs")), default=0)
        if not accuracies:
            continue
        acc = med(accuracies)
        summary[label] = {"accuracy": acc, "per_epoch": per_epoch, "modes": modes, "epochs": epochs,
                          "split": "test"}
        spread = f"{100 * min(accuracies):.2f}..{100 * max(accuracies):.2f}%" if len(accuracies) > 1 else "-"
        figures = published.get(mine[0]["point"]["algorithm"], [])
        rows.append([label, mine[0].get("model", "?"), epochs, len(mine), f"{100 * acc:.2f}%", spread, ", ".join(modes),
                     f"{per_epoch:.2f}" if per_epoch else "n/a", published_cell(figures, mine[0]["point"].get("dataset"))])
    return rows, summary


def throughput_rows(report, points, algorithms):
    rows, summary = [], {}
    # One model per experiment row set: the deepest model measured for every label.
    by_label = {}
    for p in points:
        by_label.setdefault(p["point"]["label"], []).append(p)
    for label in sorted(by_label, key=lambda l: (l not in ("bp", "ff"), l)):
        p = max(by_label[label], key=lambda q: (len(q["point"]["hidden"]), q["point"]["batch"]))
        train = p.get("train") or {}
        memory = p.get("memory") or {}
        flops = p.get("flops_per_sample") or {}
        inference = flops.get("inference") or {}
        default_mode = (p.get("modes") or ["?"])[0]
        info = algorithms.get(p["point"]["algorithm"])
        params = sum(memory.get(c, 0) for c in ("weights", "grads", "optimizer"))
        live = p.get("peak_live_activations") or memory.get("peak_live_activations")
        summary[label] = {"rate": train.get("samples_per_s_median"), "live": live, "model": p.get("model"),
                          "batch": p["point"]["batch"], "fraction": train.get("roofline_fraction")}
        rows.append([label, p.get("model", "?"), p["point"]["batch"],
                     report_num(train.get("samples_per_s_median")),
                     f"{train.get('gflops', 0):.0f}" if train.get("gflops") else "n/a",
                     f"{100 * train['roofline_fraction']:.0f}%" if train.get("roofline_fraction") else "n/a",
                     report_num(flops.get("train")), f"{report_num(inference.get(default_mode))} ({default_mode})",
                     f"{params / MiB:.1f}", f"{live / MiB:.2f}" if live else "n/a", locality(info)])
    return rows, summary


def report_num(value):
    if value is None:
        return "n/a"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:.3g}"


def section(report):
    """Appends the section to `report` (a report.Report); nothing when no experiment compares four algorithms."""
    convergence = family_experiments(report.ok, "convergence")
    throughput = family_experiments(report.ok, "throughput")
    if not convergence and not throughput:
        return
    algorithms = {a["name"]: a for a in report.manifest.get("algorithms", []) if isinstance(a, dict)}
    lines = report.lines
    lines += ["## The algorithm family", "",
              "Every experiment that measures four or more algorithms side by side. Each algorithm's folder "
              "(`algorithms/<name>/README.md`) gives its rule and source."]
    if algorithms:
        lines.append("")
        report.table(["algorithm", "what", "layers learn"], [[n, a.get("summary", ""), locality(a)] for n, a in algorithms.items()])
    accuracy_summary, speed_summary = {}, {}
    published = published_figures(algorithms) if convergence else {}
    for experiment, points in sorted(convergence.items()):
        split = "validation" if any(p.get("validation_samples") for p in points) else "test"
        lines += [f"### Accuracy: `{experiment}`", "",
                  f"Final {'test (once, after training on the validation-selected setup)' if split == 'validation' else 'test'} "
                  "accuracy in each algorithm's best prediction mode, median over seeds; seconds of training per epoch; "
                  "beside it the test accuracy the algorithm's source published on this dataset, in the source's own "
                  "setup (network and epochs differ from this experiment's).", ""]
        rows, summary = convergence_rows(points, published)
        report.table(["label", "model", "epochs", "seeds", "accuracy", "spread", "mode", "s / epoch",
                      "published (source's setup)"], rows)
        accuracy_summary[experiment] = summary
        plot_accuracy(report, experiment, summary)
    for experiment, points in sorted(throughput.items()):
        lines += [f"### Speed and memory: `{experiment}`", "",
                  "Training samples/s (median of repeats), its GFLOP/s and fraction of the GEMM ceiling, analytic FLOPs "
                  "per sample (training step; inference in the default mode), parameter memory (weights, gradients, "
                  "optimizer state) and the peak of live activations during a step.", ""]
        rows, summary = throughput_rows(report, points, algorithms)
        report.table(["label", "model", "B", "train samples/s", "GFLOP/s", "of ceiling", "train FLOPs/sample",
                      "inference FLOPs/sample", "params MiB", "peak live act. MiB", "layers learn"], rows)
        speed_summary[experiment] = summary
    findings(report, accuracy_summary, speed_summary)


def plot_accuracy(report, experiment, summary):
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    labels = list(summary)
    if not labels:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(labels) + 1.5))
    axes[0].barh(labels, [100 * summary[l]["accuracy"] for l in labels], color="tab:blue")
    low = min(100 * summary[l]["accuracy"] for l in labels)
    axes[0].set_xlim(max(0.0, low - 5), 100)
    axes[0].set_xlabel("final accuracy (%)")
    axes[1].barh(labels, [summary[l]["per_epoch"] or 0 for l in labels], color="tab:orange")
    axes[1].set_xlabel("training seconds per epoch")
    for ax in axes:
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    report.save(fig, f"family-{experiment}.png", f"`{experiment}`: accuracy and training time per epoch of every algorithm")


def findings(report, accuracy_summary, speed_summary):
    for experiment, summary in sorted(accuracy_summary.items()):
        bp, ff = summary.get("bp"), summary.get("ff")
        for label, s in summary.items():
            if label in ("bp", "ff"):
                continue
            parts = [f"{label} reached {100 * s['accuracy']:.2f}% ({'/'.join(s['modes'])}) after {s['epochs']} epochs"]
            if bp:
                parts.append(f"bp {100 * bp['accuracy']:.2f}%")
            if ff:
                parts.append(f"ff {100 * ff['accuracy']:.2f}%")
            timing = ""
            if bp and bp["per_epoch"] and s["per_epoch"]:
                timing = f"; an epoch took {s['per_epoch'] / bp['per_epoch']:.2f}x bp's"
                if ff and ff["per_epoch"]:
                    timing += f" and {s['per_epoch'] / ff['per_epoch']:.2f}x ff's"
            report.findings.append(f"{parts[0]} against {' and '.join(parts[1:]) or 'no baseline'} (`{experiment}`){timing}.")
    for experiment, summary in sorted(speed_summary.items()):
        bp, ff = summary.get("bp"), summary.get("ff")
        if not bp or not bp["rate"]:
            continue
        faster = [(label, s["rate"] / bp["rate"]) for label, s in summary.items() if label != "bp" and s["rate"]]
        if faster:
            ranked = ", ".join(f"{label} {ratio:.2f}x" for label, ratio in sorted(faster, key=lambda t: -t[1]))
            report.findings.append(f"Training speed relative to bp ({bp['model']}, B {bp['batch']}, `{experiment}`): {ranked}.")
        lighter = [(label, s["live"] / bp["live"]) for label, s in summary.items() if label != "bp" and s["live"] and bp["live"]]
        if lighter:
            ranked = ", ".join(f"{label} {ratio:.2f}x" for label, ratio in sorted(lighter, key=lambda t: t[1]))
            report.findings.append(f"Peak live activation memory relative to bp (`{experiment}`): {ranked}.")
