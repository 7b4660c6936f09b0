"""The report's throughput sections, one per throughput experiment (samples/s, GFLOP/s, the fraction of
the GEMM ceiling, the step's share in GEMMs, memory; the sweeps' plots and findings over depth, width
and threads; the inference cost per prediction mode), how a step's two parts scale with threads, and
the roofline fraction per algorithm."""
import json
from collections import defaultdict

from reporting.common import MiB, axes_of, axis_value, concurrent_gemms, fmt_num, med, plt, slope, split_by, table
from reporting.schedule import schedule_lines


def parts_outside_products(p):
    """A throughput point's step parts (the algorithm's lap clock, us per step) that hold no product:
    name -> us, largest first. Parts naming products, and FF's neutral pass (its products with their
    normalisation), are left out. Empty for a result from before the parts were recorded."""
    parts = (p.get("step_parts") or {}).get("parts", [])
    outside = [(q["part"], q["us_per_step"]) for q in parts
               if "products" not in q["part"] and not q["part"].startswith("neutral pass")]
    return dict(sorted(outside, key=lambda kv: -kv[1]))


def update_traffic(p):
    """The step's 'update' part against the memory roof: (us, bytes, GB/s, roof GB/s) or None. The bytes
    are the arena's weights, gradients and optimizer state, each read once and all but the gradients
    written once (Adam: 28 bytes a parameter, SGD with momentum: 20): the update's traffic when every
    parameter is updated once a step and nothing comes from cache. Close for bp and ff (ff's classifier
    updates in its own part: its parameters are counted here, a few per mille of the model); the roof is
    the point's `memory_bandwidth` pass with the same mix. None when the point lacks either."""
    us = parts_outside_products(p).get("update")
    memory = p.get("memory") or {}
    roof = (p.get("memory_bandwidth") or {}).get("gbps")
    if not us or not roof or not all(memory.get(k) for k in ("weights", "grads", "optimizer")):
        return None
    moved = 2 * memory["weights"] + memory["grads"] + 2 * memory["optimizer"]
    return us, moved, moved / (us * 1e-6) * 1e-9, roof


def throughput_section(run):
    lines = []
    inference_drawn = False  # one inference plot: the first experiment with several prediction modes
    for experiment, points in sorted(run.by_experiment("throughput").items()):
        axes = axes_of(points)
        axis = axes[0] if axes else None
        lines += [f"## Throughput: `{experiment}`" + (f" (sweep over {' x '.join(axes)})" if axes else ""), ""]
        lines.append("Train samples/s over steady-state windows (warm-up excluded; median of repeats), GFLOP/s from "
                     "the analytic FLOPs, and the fraction of the GEMM ceiling measured on the same shapes in the "
                     "same process (per shape the faster of oneDNN's plain and blocked layouts). 'step in GEMMs': the share of the "
                     "step's wall time spent inside oneDNN's matmuls, and in brackets their rate there as a fraction "
                     "of the same shapes' ceiling, and of the ceiling's median timing (the ceiling is the fastest of 5 "
                     "timings; a step's rate is an average, so the machine's own timing spread separates the two): "
                     "the roofline fraction is about the share times the rate, so a shortfall is either work outside "
                     "the GEMMs or GEMMs slower in the step than alone.\n")
        lines += throughput_table(points, axes)
        if axis:
            for name, series in split_by(experiment, points, axes[1:]):
                lines += sweep_lines(run, name, series, axis)
            lines += schedule_lines(run, experiment, points)
        if not inference_drawn and any(len(p.get("inference", {})) > 1 for p in points):
            lines += inference_lines(run, experiment, points)
            inference_drawn = True
    run.findings.extend(outside_gemm_findings(run))
    return lines


def throughput_table(points, axes):
    rows = []
    for p in sorted(points, key=lambda q: (q["point"]["label"], *(axis_value(q, a) for a in reversed(axes)))):
        t = p["train"]
        mem = p["memory"]
        inference = ", ".join(f"{m}: {fmt_num(v['samples_per_s_median'])}" for m, v in p.get("inference", {}).items())
        profile = p.get("step_profile")
        in_gemm = "not recorded"
        if profile and concurrent_gemms(p, profile):
            in_gemm = "n/a (GEMMs on several threads at once)"
        elif profile:
            in_gemm = f"{100 * profile['gemm_time_share']:.0f}% ({100 * profile['gemm_fraction_of_ceiling_in_step']:.0f}%"
            median = profile.get("gemm_fraction_of_ceiling_median_in_step")
            in_gemm += f"; {100 * median:.0f}% of median)" if median else ")"
        rows.append([p["point"]["label"], p["model"], p["point"]["batch"], p["point"]["threads"],
                     fmt_num(t["samples_per_s_median"]), f"{fmt_num(t['samples_per_s_min'])}..{fmt_num(t['samples_per_s_max'])}",
                     f"{t['gflops']:.0f}", f"{p['roofline']['gflops']:.0f}", f"{100 * t['roofline_fraction']:.0f}%", in_gemm,
                     inference, f"{mem['peak_live_activations'] / MiB:.2f}", f"{mem['arena_total'] / MiB:.1f}",
                     f"{mem['peak_rss'] / MiB:.0f}"])
    return table(["algorithm", "model", "B", "threads", "train samples/s", "range", "GFLOP/s", "GEMM roofline GFLOP/s",
                  "of roofline", "step in GEMMs (their rate)", "inference samples/s", "peak live act. MiB", "arena MiB",
                  "peak RSS MiB"], rows)


def outside_gemm_findings(run):
    """How the step's two parts scale with threads: the same training configuration (algorithm,
    model, batch, options; every experiment that measured it) at its fewest and most threads,
    the GEMMs' time per step against the time outside them (from the step profile's GEMM share),
    medians over the points at each thread count."""
    groups = defaultdict(lambda: defaultdict(list))
    findings = []
    for p in run.ok:
        profile = p.get("step_profile")
        if p["point"]["measure"] != "throughput" or not profile or concurrent_gemms(p, profile):
            continue
        key = (p["point"]["label"], p["model"], p["point"]["batch"], json.dumps(p["point"].get("options", {}), sort_keys=True))
        step = p["train"]["step_ms_median"]
        share = profile["gemm_time_share"]
        groups[key][p["point"]["threads"]].append((step * share, step * (1 - share), parts_outside_products(p), update_traffic(p)))
    for (label, model, batch, _), by_threads in sorted(groups.items()):
        if len(by_threads) < 2:
            continue
        few, many = min(by_threads), max(by_threads)
        gemm_a, out_a = (med([x[i] for x in by_threads[few]]) for i in (0, 1))
        gemm_b, out_b = (med([x[i] for x in by_threads[many]]) for i in (0, 1))
        if out_b <= 0 or gemm_b <= 0:
            continue
        counts = f"{len(by_threads[few])} and {len(by_threads[many])} point(s)"
        findings.append(
            f"{label} {model}, B {batch}, {few} -> {many} threads ({counts}, medians): the GEMMs' time per step fell "
            f"{gemm_a / gemm_b:.2f}x ({gemm_a:.2f} -> {gemm_b:.2f} ms), the time outside them {out_a / out_b:.2f}x "
            f"({out_a:.2f} -> {out_b:.2f} ms); the share outside the GEMMs went from {100 * out_a / (gemm_a + out_a):.0f}% "
            f"to {100 * out_b / (gemm_b + out_b):.0f}%." + parts_scaling(by_threads[few], by_threads[many]) +
            update_roof_scaling(by_threads[few], by_threads[many], few, many))
    return findings


def update_roof_scaling(few, many, threads_few, threads_many):
    """The update part against each point's memory roof at the fewest and the most threads (medians
    over the points that recorded both): an update that stays near the roof is waiting on memory;
    one that falls away from it as threads are added waits on something else."""
    a = [x[3] for x in few if x[3]]
    b = [x[3] for x in many if x[3]]
    if not a or not b:
        return ""
    def rates(traffic):
        return med([t[2] for t in traffic]), med([t[2] / t[3] for t in traffic])
    (gbps_a, share_a), (gbps_b, share_b) = rates(a), rates(b)
    return (f" The update reads and writes its weights, gradients and optimizer state at {gbps_a:.1f} GB/s on {threads_few} "
            f"and {gbps_b:.1f} GB/s on {threads_many} threads: {100 * share_a:.0f}% and {100 * share_b:.0f}% of the memory "
            f"roof measured with each point.")


def parts_scaling(few, many):
    """The parts outside the products at the fewest and the most threads (medians over the points
    that recorded parts), the four largest at the most threads: which parts do not speed up."""
    def medians(points):
        recorded = [x[2] for x in points if x[2]]
        names = set.intersection(*(set(r) for r in recorded)) if recorded else set()
        return {name: med([r[name] for r in recorded]) for name in names}
    a, b = medians(few), medians(many)
    shared = sorted(set(a) & set(b), key=lambda name: -b[name])[:4]
    if not shared:
        return ""
    return " Outside the products, per part (us per step): " + "; ".join(
        f"{name} {a[name]:.0f} -> {b[name]:.0f} ({a[name] / b[name]:.2f}x)" for name in shared) + "."


def sweep_lines(run, experiment, points, axis):
    """One series swept over `axis`: throughput and roofline fraction against it, then by axis the
    memory plot and findings (depth), the thread scaling (threads), the fractions by width (width)."""
    labels = sorted({p["point"]["label"] for p in points})
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for label in labels:
        series = sorted((axis_value(p, axis), p) for p in points if p["point"]["label"] == label)
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
    lines = [run.save(fig, f"throughput_vs_{axis}_{experiment}.png", f"throughput vs {axis}")]
    if axis == "depth":
        lines.append(memory_plot(run, experiment, points, labels))
        run.findings.extend(depth_findings(experiment, points, labels))
    if axis == "threads":
        lines.append(thread_plot(run, experiment, points, labels))
    if axis == "width":
        run.findings.extend(width_findings(experiment, points, labels))
    return lines


def memory_plot(run, experiment, points, labels):
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
    return run.save(fig, f"memory_vs_depth_{experiment}.png", "memory by category vs depth")


def depth_findings(experiment, points, labels):
    findings, slopes = [], {}
    for label in labels:
        series = sorted((len(p["point"]["hidden"]), p) for p in points if p["point"]["label"] == label)
        xs = [x for x, _ in series]
        live = slope(xs, [p["memory"]["peak_live_activations"] for _, p in series])
        total = slope(xs, [p["memory"]["arena_total"] for _, p in series])
        slopes[label] = (live, total)
        rates = [p["train"]["samples_per_s_median"] for _, p in series]
        if len(series) >= 2:
            findings.append(
                f"{label}: from depth {xs[0]} to {xs[-1]} ({experiment}, width {series[0][1]['point']['hidden'][0]}), train "
                f"throughput fell from {fmt_num(rates[0])} to {fmt_num(rates[-1])} samples/s ({rates[0] / rates[-1]:.1f}x); "
                f"peak live activation memory grows by {fmt_num(live / 1024)} KiB per layer and the whole arena by "
                f"{fmt_num(total / MiB)} MiB per layer.")
    if "ff" in slopes and "bp" in slopes and slopes["bp"][0]:
        findings.append(
            f"Activation-memory slope: FF {fmt_num(slopes['ff'][0])} bytes per layer against BP's {fmt_num(slopes['bp'][0])} "
            f"bytes per layer ({experiment}).")
    deepest = max(len(p["point"]["hidden"]) for p in points)
    at = {p["point"]["label"]: p for p in points if len(p["point"]["hidden"]) == deepest}
    if "ff" in at and "bp" in at:
        ff, bp = at["ff"], at["bp"]
        findings.append(
            f"At depth {deepest} FF trains at {fmt_num(ff['train']['samples_per_s_median'])} samples/s against BP's "
            f"{fmt_num(bp['train']['samples_per_s_median'])} ({bp['train']['samples_per_s_median'] / ff['train']['samples_per_s_median']:.2f}x slower), "
            f"doing {ff['flops_per_sample']['train'] / bp['flops_per_sample']['train']:.2f}x BP's matmul FLOPs per sample "
            f"at {100 * ff['train']['roofline_fraction']:.0f}% of the GEMM roofline (BP {100 * bp['train']['roofline_fraction']:.0f}%).")
    return findings


def width_findings(experiment, points, labels):
    findings = []
    for label in labels:
        series = sorted((p["point"]["hidden"][0], p) for p in points if p["point"]["label"] == label)
        fractions = ", ".join(f"{w}: {100 * p['train']['roofline_fraction']:.0f}%" for w, p in series)
        findings.append(f"{label} roofline fraction by width ({experiment}): {fractions}.")
    return findings


def thread_plot(run, experiment, points, labels):
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
        run.findings.append(
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
    return run.save(fig, f"thread_scaling_{experiment}.png", "thread scaling")


def inference_lines(run, experiment, points):
    """The cost per prediction mode, one point per label, and goodness prediction against softmax."""
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
    lines = [run.save(fig, f"inference_cost_{experiment}.png", "inference cost per prediction mode")]
    for label, p in sorted(chosen.items()):
        inf = p["inference"]
        if "goodness" in inf and "softmax" in inf:
            ratio = inf["softmax"]["samples_per_s_median"] / inf["goodness"]["samples_per_s_median"]
            flops = p["flops_per_sample"]["inference"]
            run.findings.append(
                f"{label} goodness prediction costs {ratio:.1f}x one-pass softmax prediction in time "
                f"({fmt_num(inf['goodness']['samples_per_s_median'])} against {fmt_num(inf['softmax']['samples_per_s_median'])} "
                f"samples/s, {p['model']}) and {flops['goodness'] / flops['softmax']:.1f}x in matmul FLOPs "
                f"(a naive pass per label would be about {p['point'].get('classes', 10)}x).")
    return lines


def roofline_section(run):
    points = [p for p in run.ok if p["point"]["measure"] == "throughput"]
    if not points:
        return []
    per_label = defaultdict(list)
    for p in points:
        per_label[p["point"]["label"]].append(100 * p["train"]["roofline_fraction"])
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = sorted(per_label)
    ax.boxplot([per_label[l] for l in labels], labels=labels)
    ax.set_ylabel("% of GEMM roofline (train)")
    ax.set_title("roofline fraction per algorithm (all throughput points)")
    ax.grid(alpha=0.3)
    lines = ["## Roofline fraction per algorithm", "", run.save(fig, "roofline_fraction.png", "roofline fraction per algorithm")]
    return lines + table(["algorithm", "points", "median % of roofline", "min", "max"],
                         [[l, len(per_label[l]), f"{med(per_label[l]):.0f}%", f"{min(per_label[l]):.0f}%",
                           f"{max(per_label[l]):.0f}%"] for l in labels])
