"""The report's "Convergence" sections, one per convergence experiment (those with ranks have their own,
reporting/distributed.py): accuracy curves against time and epochs, time to target, FF's per-layer
diagnostics, their findings, and the lead time-to-accuracy finding over all of them."""
from collections import defaultdict

from reporting.common import curve_split, fmt_num, med, plt, selection_text, table
from reporting.distributed import experiments_with_ranks


def convergence_section(run):
    lines = []
    for experiment, points in single_process_experiments(run):
        curves, tests, best = accuracy_curves(points)
        lines += experiment_intro(experiment, points)
        lines += accuracy_table(curves, tests, best, curve_split(points))
        for xaxis, name in ((1, "seconds"), (0, "epochs")):
            lines.append(accuracy_plot(run, experiment, curves, curve_split(points), xaxis, name))
        lines += time_to_target_lines(run, experiment, points)
        lines += diagnostics_lines(points)
        run.findings.extend(convergence_findings(experiment, points, curves))
    return lines


def single_process_experiments(run):
    """(experiment, points) of every convergence experiment without ranks, by name."""
    distributed = experiments_with_ranks(run.ok)
    return [(e, ps) for e, ps in sorted(run.by_experiment("convergence").items()) if e not in distributed]


def experiment_intro(experiment, points):
    model = points[0].get("model")
    split = curve_split(points)
    validation = f"{points[0].get('validation_samples')} validation / " if split == "validation" else ""
    return [f"## Convergence: `{experiment}`", "",
            f"Model {model}, batch {points[0]['point']['batch']}, "
            f"{points[0].get('train_samples')} training / {validation}{points[0].get('test_samples')} test "
            "samples. Training wall time excludes evaluation; median over seeds, band = min..max. "
            f"{selection_text(points)}\n"]


def accuracy_curves(points):
    """Per (label, mode): each seed's curve [(epoch, seconds, accuracy)] on the curves' split, the final
    test accuracies, and the best epochs on validation."""
    key = f"{curve_split(points)}_accuracy"
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
    return curves, tests, best


def accuracy_table(curves, tests, best, split):
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
    return table(header + ["epochs", "s/epoch"], rows)


def accuracy_plot(run, experiment, curves, split, xaxis, name):
    """Accuracy against training seconds (xaxis 1) or epochs (xaxis 0): the median over seeds, the band min..max."""
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
    return run.save(fig, f"accuracy_vs_{name}_{experiment}.png", f"{split} accuracy vs {name}")


def experiment_targets(points):
    return sorted({t for p in points for t in p["point"].get("targets", [])})


def time_to_target_results(points):
    """(label, mode) -> target -> each seed's time to it ({seconds, epoch}, or None: not reached)."""
    results = defaultdict(lambda: defaultdict(list))
    for p in points:
        for mode, per_target in p.get("time_to_target", {}).items():
            for target, reached in per_target.items():
                results[(p["point"]["label"], mode)][float(target)].append(reached)
    return results


def time_to_target_lines(run, experiment, points):
    targets = experiment_targets(points)
    if not targets:
        return []
    results = time_to_target_results(points)
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
    lines = [f"Time to target {curve_split(points)} accuracy (median over seeds; training wall time and epochs):\n"]
    lines += table(["algorithm", "prediction"] + [f"{100 * t:g}%" for t in targets], rows)
    return lines + [time_to_target_plot(run, experiment, targets, results)]


def time_to_target_plot(run, experiment, targets, results):
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
    return run.save(fig, f"time_to_target_{experiment}.png", "time to target accuracy")


def fastest_to_targets(run):
    """MLPerf-style time to accuracy: (dataset, split, algorithm, target) -> the fastest label and
    prediction mode of any convergence experiment (median over seeds; every seed must reach it) as
    (seconds, epochs, where, mode), or None where no configuration reached it with every seed."""
    tta = {}
    for experiment, points in single_process_experiments(run):
        targets = experiment_targets(points)
        if not targets:
            continue
        algorithm_of = {p["point"]["label"]: p["point"]["algorithm"] for p in points}
        dataset, split = points[0]["point"].get("dataset", "?"), curve_split(points)
        for (label, mode), per_target in time_to_target_results(points).items():
            for t in targets:
                reached = per_target.get(t, [])
                key = (dataset, split, algorithm_of.get(label), t)
                if not reached or not all(reached):
                    tta.setdefault(key, None)
                    continue
                candidate = (med([r["seconds"] for r in reached]), med([r["epoch"] for r in reached]),
                             f"{experiment}/{label}", mode)
                if tta.get(key) is None or candidate[0] < tta[key][0]:
                    tta[key] = candidate
    return tta


def lead_findings(run):
    """Time to accuracy, FF against BP, per dataset and split: the findings that come first."""
    tta = fastest_to_targets(run)
    findings = []
    for dataset, split in sorted({(d, s) for d, s, _, _ in tta}):
        targets = sorted({t for d, s, _, t in tta if (d, s) == (dataset, split)})
        algorithms = {a for d, s, a, _ in tta if (d, s) == (dataset, split)}
        if not {"bp", "ff"} <= algorithms:
            continue
        parts = []
        for t in targets:
            bp, ff = tta.get((dataset, split, "bp", t)), tta.get((dataset, split, "ff", t))
            if bp is None:
                continue
            bp_text = f"bp {bp[0]:.1f} s ({bp[1]:g} epochs, {bp[2]})"
            if ff is None:
                parts.append(f"{100 * t:g}%: {bp_text}; ff did not reach it in this run")
            else:
                parts.append(f"{100 * t:g}%: ff {ff[0]:.1f} s ({ff[1]:g} epochs, {ff[2]} {ff[3]}) against {bp_text}: "
                             f"FF/BP {ff[0] / bp[0]:.1f}x")
        if parts:
            findings.append(f"Time to {split} accuracy on {dataset} (median over seeds, training time, each "
                            "algorithm's fastest configuration in this run): " + "; ".join(parts) + ".")
    return findings


def diagnostics_lines(points):
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
    if not rows:
        return []
    return (["FF per-layer diagnostics (last epoch's mean goodness of positives and negatives, their "
             "separation, and each layer's goodness-prediction accuracy on its own):\n"]
            + table(["algorithm", "seed", "layer", "goodness +", "goodness -", "separation", "accuracy alone"], rows))


def convergence_findings(experiment, points, curves):
    findings = time_to_target_findings(experiment, points, curves)
    per_epoch = {}
    for label in sorted({p["point"]["label"] for p in points}):
        secs = [p["epochs"][-1]["train_seconds"] / p["epochs"][-1]["epoch"] for p in points
                if p["point"]["label"] == label and p["epochs"]]
        if secs:
            per_epoch[label] = med(secs)
    if "bp" in per_epoch and "ff" in per_epoch:
        findings.append(
            f"One FF epoch took {per_epoch['ff'] / per_epoch['bp']:.2f}x a BP epoch ({per_epoch['ff']:.2f} s against "
            f"{per_epoch['bp']:.2f} s, {experiment}, {points[0].get('model')}).")
    return findings


def time_to_target_findings(experiment, points, curves):
    """FF's training time to 97 % (else 95 %) against BP's, or that FF did not reach what BP did."""
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

    split = curve_split(points)
    for target in (0.97, 0.95):
        bp, ff = time_to("bp", target), time_to("ff", target)
        if bp and ff:
            bp_s = med([s for _, s, _ in bp])
            by_mode = defaultdict(list)
            for mode, s, _ in ff:
                by_mode[mode].append(s)
            mode, times = min(by_mode.items(), key=lambda kv: med(kv[1]))
            return [f"To reach {100 * target:g}% {split} accuracy ({experiment}), FF needed {med(times) / bp_s:.1f}x BP's training "
                    f"wall time: {med(times):.1f} s with {mode} prediction against BP's {bp_s:.1f} s (medians over seeds)."]
        if bp and not ff:
            ff_final = [c[-1][2] for (label, _), seeds in curves.items() if label == "ff" for c in seeds if c]
            if ff_final:
                return [f"BP reached {100 * target:g}% {split} accuracy in {med([s for _, s, _ in bp]):.1f} s ({experiment}); FF did "
                        f"not reach it within the run (best final accuracy {100 * max(ff_final):.2f}%)."]
            return []
    return []
