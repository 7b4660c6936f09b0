"""The report's "The algorithm family": every experiment that measures four or more algorithms side by
side (the suites' `family` and `family-speed`), one row per algorithm label: accuracy and time per epoch
from convergence points; speed, the roofline fraction, FLOPs per phase, memory and layer-locality from
throughput points. The algorithms' summaries, published accuracies and locality come from the run's
manifest only (`ffbench list --json`, written by `ffbench run`); a field an older manifest lacks is
reported as not recorded."""
from reporting.common import MiB, fmt_num, med, plt, table

MIN_ALGORITHMS = 4


def family_section(run):
    """Nothing when no experiment compares four algorithms."""
    convergence = family_experiments(run.ok, "convergence")
    throughput = family_experiments(run.ok, "throughput")
    if not convergence and not throughput:
        return []
    algorithms = run.algorithms()
    lines = ["## The algorithm family", "",
             "Every experiment that measures four or more algorithms side by side. Each algorithm's folder "
             "(`algorithms/<name>/README.md`) gives its rule and source."]
    if algorithms:
        lines.append("")
        lines += table(["algorithm", "what", "layers learn"], [[n, a.get("summary", ""), locality(a)] for n, a in algorithms.items()])
    accuracy_summary, speed_summary = {}, {}
    published = published_figures(algorithms)
    for experiment, points in sorted(convergence.items()):
        rows, summary = convergence_rows(points, published)
        lines += accuracy_intro(experiment, points, published)
        lines += table(["label", "model", "epochs", "seeds", "accuracy", "spread", "mode", "s / epoch",
                        "published (source's setup)"], rows)
        accuracy_summary[experiment] = summary
        if summary:
            lines.append(accuracy_plot(run, experiment, summary))
    for experiment, points in sorted(throughput.items()):
        lines += [f"### Speed and memory: `{experiment}`", "",
                  "Training samples/s (median of repeats), its GFLOP/s and fraction of the GEMM ceiling, analytic FLOPs "
                  "per sample (training step; inference in the default mode), parameter memory (weights, gradients, "
                  "optimizer state) and the peak of live activations during a step.", ""]
        rows, summary = throughput_rows(points, algorithms)
        lines += table(["label", "model", "B", "train samples/s", "GFLOP/s", "of ceiling", "train FLOPs/sample",
                        "inference FLOPs/sample", "params MiB", "peak live act. MiB", "layers learn"], rows)
        speed_summary[experiment] = summary
    run.findings.extend(accuracy_findings(accuracy_summary) + speed_findings(speed_summary))
    return lines


def family_experiments(points, measure):
    groups = {}
    for p in points:
        if p["point"]["measure"] == measure and p["point"].get("distributed", "none") == "none":
            groups.setdefault(p["point"]["experiment"], []).append(p)
    return {e: ps for e, ps in groups.items() if len({p["point"]["algorithm"] for p in ps}) >= MIN_ALGORITHMS}


def published_figures(algorithms):
    """name -> [published accuracy] from the run's manifest (citations, not measurements); None when the
    manifest records none (a run made before the registry carried them)."""
    if not any("published" in a for a in algorithms.values()):
        return None
    return {n: a.get("published", []) for n, a in algorithms.items()}


def accuracy_intro(experiment, points, published):
    split = "validation" if any(p.get("validation_samples") for p in points) else "test"
    citations = ("beside it the test accuracy the algorithm's source published on this dataset, in the source's own "
                 "setup (network and epochs differ from this experiment's)." if published is not None else
                 "the published accuracies are not recorded in this run's manifest (a run from before `ffbench list "
                 "--json` carried them; a current build lists them).")
    return [f"### Accuracy: `{experiment}`", "",
            f"Final {'test (once, after training on the validation-selected setup)' if split == 'validation' else 'test'} "
            "accuracy in each algorithm's best prediction mode, median over seeds; seconds of training per epoch; "
            + citations, ""]


def published_cell(figures, dataset):
    if figures is None:
        return "not recorded"
    mine = [f for f in figures if f.get("dataset") == dataset]
    return "; ".join(f"{100 * f['accuracy']:.2f}% ({f['setup']}; {f['source']})" for f in mine) or "-"


def layer_local(info):
    """Whether the algorithm's layers learn locally (could be pipelined over devices), from the manifest:
    its `layer_local` field (`ffbench list --json`); runs recorded before the field have only the prose
    of its `pipeline` entry. None without an entry."""
    if not info:
        return None
    if "layer_local" in info:
        return bool(info["layer_local"])
    pipeline = info.get("pipeline", "")
    return pipeline == "with its defaults" or "schedule=pipelined" in pipeline or "no pipelined schedule yet" in pipeline


def locality(info):
    local = layer_local(info)
    return "?" if local is None else ("layer-local" if local else "end to end")


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
        figures = None if published is None else published.get(mine[0]["point"]["algorithm"], [])
        rows.append([label, mine[0].get("model", "?"), epochs, len(mine), f"{100 * acc:.2f}%", spread, ", ".join(modes),
                     f"{per_epoch:.2f}" if per_epoch else "n/a", published_cell(figures, mine[0]["point"].get("dataset"))])
    return rows, summary


def throughput_rows(points, algorithms):
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
                     fmt_num(train.get("samples_per_s_median")),
                     f"{train.get('gflops', 0):.0f}" if train.get("gflops") else "n/a",
                     f"{100 * train['roofline_fraction']:.0f}%" if train.get("roofline_fraction") else "n/a",
                     fmt_num(flops.get("train")), f"{fmt_num(inference.get(default_mode))} ({default_mode})",
                     f"{params / MiB:.1f}", f"{live / MiB:.2f}" if live else "n/a", locality(info)])
    return rows, summary


def accuracy_plot(run, experiment, summary):
    labels = list(summary)
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
    return run.save(fig, f"family-{experiment}.png", f"`{experiment}`: accuracy and training time per epoch of every algorithm")


def accuracy_findings(accuracy_summary):
    findings = []
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
            findings.append(f"{parts[0]} against {' and '.join(parts[1:]) or 'no baseline'} (`{experiment}`){timing}.")
    return findings


def speed_findings(speed_summary):
    findings = []
    for experiment, summary in sorted(speed_summary.items()):
        bp = summary.get("bp")
        if not bp or not bp["rate"]:
            continue
        faster = [(label, s["rate"] / bp["rate"]) for label, s in summary.items() if label != "bp" and s["rate"]]
        if faster:
            ranked = ", ".join(f"{label} {ratio:.2f}x" for label, ratio in sorted(faster, key=lambda t: -t[1]))
            findings.append(f"Training speed relative to bp ({bp['model']}, B {bp['batch']}, `{experiment}`): {ranked}.")
        lighter = [(label, s["live"] / bp["live"]) for label, s in summary.items() if label != "bp" and s["live"] and bp["live"]]
        if lighter:
            ranked = ", ".join(f"{label} {ratio:.2f}x" for label, ratio in sorted(lighter, key=lambda t: t[1]))
            findings.append(f"Peak live activation memory relative to bp (`{experiment}`): {ranked}.")
    return findings
