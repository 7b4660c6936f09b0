"""The report's "Past one machine": the run's distributed
points (suite field `ranks` with an algorithm entry's `distributed`: data or pipeline) beside their
one-process counterparts (same experiment and label, no `distributed`), per-rank compute and
communication, and the newest published scaling model (reports/published/distributed-*/model.json,
made by scripts/distributed/measure_distributed.sh and scripts/distributed/scaling_model.py) with its validation.
"""
import glob
import json
import os
import shutil
import statistics

from reporting.common import ROOT, plt, table


def is_distributed(point):
    return point["point"].get("distributed", "none") != "none"


def experiments_with_ranks(points):
    """Experiments with at least one distributed point (the convergence section leaves them out)."""
    return {p["point"]["experiment"] for p in points if is_distributed(p)}


def last_rate(point):
    epochs = point.get("epochs") or []
    return epochs[-1]["samples_per_second"] if epochs else None


def distributed_section(run):
    """Nothing when the run has no distributed point and no model is published."""
    experiments = experiments_with_ranks(run.ok)
    model = newest_model()
    if not experiments and model is None:
        return []
    lines = ["## Past one machine: FF's layer pipeline and data parallelism over MPI", ""]
    cores = run.manifest.get("hardware_threads") or 0
    for experiment in sorted(experiments):
        # Points over an emulated link have their own section (reporting/network.py).
        points = [p for p in run.ok if p["point"]["experiment"] == experiment and not p["point"].get("link")]
        lines += experiment_lines(run, experiment, points, model[1] if model else None, cores)
    if model is not None:
        lines += model_lines(run, *model)
    return lines


def experiment_lines(run, experiment, points, model, cores):
    """One experiment's points beside their one-process counterparts, per rank: the table, the plot,
    and FF's pipeline against BP's data parallelism beside the model's prediction."""
    first = points[0]
    lines = [f"Experiment `{experiment}`: model {first.get('model')}, global batch {first['point']['batch']}, "
             f"{first.get('train_samples')} training samples, {first['point']['epochs']} epochs; samples/s of the "
             "last epoch (the slowest rank's time), median over seeds. Each distributed point is an `mpirun` job "
             "started by `ffbench run`; its one-process counterpart is the entry with the same label. "
             "compute = a rank's training time less its time in MPI calls.\n"]
    groups = {}
    for p in points:
        key = (p["point"]["label"], p["point"].get("distributed", "none"), p["point"].get("ranks", 1))
        groups.setdefault(key, []).append(p)
    rows, bars = [], []
    for (label, mode, ranks), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2])):
        rate = statistics.median(r for r in (last_rate(p) for p in members) if r is not None)
        single = groups.get((label, "none", 1))
        base = statistics.median(last_rate(p) for p in single) if single else None
        threads = members[0]["point"]["threads"]
        oversubscribed = ranks * threads > cores > 0
        per_rank = (members[0].get("distributed") or {}).get("per_rank") or []
        ranks_text = "; ".join(
            f"r{r['rank']} layers {r['layers'][0] + 1}-{r['layers'][1]}: {r['compute_seconds']:.2f} s compute, "
            f"{r['reduce_seconds']:.2f} s allreduce, {r['wait_seconds'] + r['post_seconds']:.2f} s waiting, "
            f"{r['bytes_sent'] / 1e6:.0f} MB sent" for r in per_rank) or "-"
        accuracy = (members[0].get("final_accuracy") or {})
        acc_text = ", ".join(f"{m} {100 * a:.2f}%" for m, a in accuracy.items()) or "-"
        speedup = f"{rate / base:.2f}x" if base and mode != "none" else "-"
        rows.append([label, mode if mode != "none" else "one process", ranks, threads,
                     f"{rate:.0f}" + (" (oversubscribed)" if oversubscribed else ""), speedup, acc_text, ranks_text])
        bars.append((f"{label}\n{'np=%d' % ranks if mode != 'none' else 'np=1'}", rate, mode))
        if mode != "none" and base:
            efficiency = rate / base / ranks
            run.findings.append(
                f"{label} over {ranks} ranks ({mode}, {threads} thread(s) each): {rate:.0f} samples/s, {rate / base:.2f}x "
                f"one process ({100 * efficiency:.0f}% scaling efficiency) in `{experiment}`"
                + (" (more ranks x threads than cores: oversubscribed, not a scaling figure)" if oversubscribed else "") + ".")
    lines += table(["label", "mode", "ranks", "threads/rank", "samples/s", "speed-up", "final accuracy", "per rank"], rows)
    lines.append(plot_bars(run, experiment, bars))
    pipeline_against_data(run, experiment, groups, first, model, cores)
    return lines


def pipeline_against_data(run, experiment, groups, first, model, cores):
    """FF's layer pipeline over BP data-parallel at each rank count measured with both (samples/s of the
    last epoch), beside what the published scaling model's 100 GbE grid predicts for the same depth and
    width (its compute measured on another machine: the ratio, not the rates, is what compares)."""
    hidden = first["point"]["hidden"]
    grid = {(g["depth"], g["width"], g["ranks"]): g["ff_over_bp"] for g in (model or {}).get("grid_100gbe", [])}
    threads = first["point"]["threads"]
    parts = []
    for ranks in sorted({key[2] for key in groups if key[1] != "none"}):
        ff = [last_rate(p) for p in groups.get(("ff-pipeline", "pipeline", ranks), [])]
        bp = [last_rate(p) for p in groups.get(("bp-data", "data", ranks), [])]
        ff, bp = [r for r in ff if r], [r for r in bp if r]
        if not ff or not bp:
            continue
        ratio = statistics.median(ff) / statistics.median(bp)
        predicted = grid.get((len(hidden), hidden[0], ranks)) if len(set(hidden)) == 1 else None
        parts.append(f"{ranks} ranks {ratio:.2f}x" + (f" (model {predicted:.2f}x)" if predicted else "")
                     + (" (oversubscribed)" if ranks * threads > cores > 0 else ""))
    if parts:
        run.findings.append(
            f"FF's layer pipeline over BP data-parallel in samples/s (`{experiment}`, {len(hidden)} x {hidden[0]}): "
            + ", ".join(parts) + "; above 1 the pipeline trains more samples per second (the model: its 100 GbE grid).")


def plot_bars(run, experiment, bars):
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(bars)), 3.8))
    colors = {"none": "tab:gray", "pipeline": "tab:red", "data": "tab:blue"}
    ax.bar(range(len(bars)), [b[1] for b in bars], color=[colors.get(b[2], "tab:green") for b in bars])
    ax.set_xticks(range(len(bars)))
    ax.set_xticklabels([b[0] for b in bars], fontsize=8)
    ax.set_ylabel("samples/s (last epoch)")
    ax.set_title(f"{experiment}: one process (gray) vs MPI pipeline (red) / data-parallel (blue)")
    return run.save(fig, f"distributed_{experiment}.png", f"{experiment}: samples/s, one process against MPI ranks")


def newest_model():
    """(folder, model.json) of the newest published scaling model, or None."""
    folders = sorted(glob.glob(os.path.join(ROOT, "reports", "published", "distributed-*")))
    for folder in reversed(folders):
        path = os.path.join(folder, "model.json")
        if os.path.exists(path):
            with open(path) as f:
                return folder, json.load(f)
    return None


def model_lines(run, folder, model):
    setup = model["setup"]
    rel = os.path.relpath(folder, ROOT)
    lines = ["### The scaling model, and the points it was checked against", "",
             f"From `{rel}` (measured on {setup['cpu']}, {setup['cores']} cores, revision {setup['revision']}; "
             f"layers {setup['layers']}, batch {setup['batch']}, 1 thread per rank): an alpha-beta network model "
             f"(here alpha {model['alpha_us']:.2f} us, beta {model['beta_gbytes_per_s']:.2f} GB/s between two ranks of that "
             "machine) with compute times measured there; `MODEL.md` in that folder states the model. Predicted against "
             "measured at np = 2:", ""]
    rows = []
    for v in model["validation"]:
        rows.append([v["mode"], f"{v['measured_speedup']:.2f}x", f"{v['predicted_speedup']:.2f}x", f"{100 * v['error']:+.1f}%"])
    lines += table(["mode", "measured speed-up (np=2)", "predicted", "model error (step time)"], rows)
    picture = os.path.join(folder, "scaling.png")
    if os.path.exists(picture):
        os.makedirs(run.plots_dir, exist_ok=True)
        shutil.copy(picture, os.path.join(run.plots_dir, "scaling_model.png"))
        run.plots.append("scaling_model.png")
        lines.append("![scaling model: samples/s against ranks, and FF pipeline over BP data-parallel](plots/scaling_model.png)\n")
    wins = [g for g in model.get("grid_100gbe", []) if g["ff_over_bp"] > 1]
    grid = model.get("grid_100gbe", [])
    if grid:
        if wins:
            first = min(wins, key=lambda g: (g["ranks"], g["depth"], g["width"]))
            run.findings.append(
                f"The scaling model (100 GbE preset) puts FF's layer pipeline ahead of BP data-parallel in samples/s in "
                f"{len(wins)} of {len(grid)} (depth, width, ranks) cases, first at depth {first['depth']} x {first['width']} "
                f"with {first['ranks']} ranks; the model's error on the measured np = 2 points is at most "
                f"{100 * max(abs(v['error']) for v in model['validation']):.0f}%.")
        else:
            run.findings.append(
                f"The scaling model (100 GbE preset) never puts FF's layer pipeline ahead of BP data-parallel in samples/s "
                f"over depth 4-64, width 1000-4000 and 1-64 ranks; its error on the measured np = 2 points is at most "
                f"{100 * max(abs(v['error']) for v in model['validation']):.0f}%.")
    return lines
