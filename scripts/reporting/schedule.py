"""The pipelined FF schedule against the simultaneous one (the throughput section's table for an
experiment with ff and ff-pipelined, and a row of the performance targets): the measured ratio beside
the stage model, which predicts it from the stages' balance and ff's thread efficiency in the same run."""
import re

from reporting.common import plt, table


def pipelined_ratios(points):
    """{(depth, width, threads): (ff-pipelined's train samples/s over ff's, ff's point)} wherever the
    points hold both labels at the same depth, width, batch and thread count: the schedule table and
    the targets table."""
    def key(p):
        return (p["point"]["label"], len(p["point"]["hidden"]), p["point"]["hidden"][0], p["point"]["batch"], p["point"]["threads"])
    at = {key(p): p for p in points}
    return {(d, w, t): (q["train"]["samples_per_s_median"] / at[("ff", d, w, b, t)]["train"]["samples_per_s_median"], at[("ff", d, w, b, t)])
            for (label, d, w, b, t), q in sorted(at.items()) if label == "ff-pipelined" and ("ff", d, w, b, t) in at}


def model_dims(p):
    """A point's layer sizes from its model string ("[784,1000,1000]->10"): [784, 1000, 1000]."""
    return [int(v) for v in re.findall(r"\d+", p["model"].split("]")[0])]


def stage_balance(dims, threads):
    """The pipelined FF schedule's share-out of its layers over its stage threads, as ForwardForward's
    setup makes it (algorithms/ff/ff.cpp): min(threads, depth) threads; each layer costs in x out;
    largest first, each to the least-loaded thread (the first such on a tie). Returns (stage threads,
    balance): the mean load over the largest, 1 when every thread carries the same work. A step of the
    pipeline lasts as long as its most loaded thread."""
    costs = [a * b for a, b in zip(dims, dims[1:])]
    if not costs:
        return None
    team = max(1, min(threads, len(costs)))
    loads = [0.0] * team
    for cost in sorted(costs, reverse=True):  # stable: equal costs keep the layers' order, as std::stable_sort
        loads[loads.index(min(loads))] += cost
    return team, sum(loads) / (team * max(loads))


def one_thread_ff(points, p):
    """ff's (the simultaneous schedule's) 1-thread point at p's model and batch, from any experiment of
    the run, or None."""
    return next((q for q in points if q["point"]["label"] == "ff" and q["point"]["threads"] == 1 and not q["point"]["options"]
                 and q["model"] == p["model"] and q["point"]["batch"] == p["point"]["batch"]), None)


def schedule_lines(run, experiment, points):
    """The pipelined schedule's train throughput over the simultaneous one's, per width, depth and
    thread count, beside the stage model's ratio: the pipeline runs each layer at one thread's
    speed and lasts, per step, as long as its most loaded stage thread, so it reaches
    team x balance x (ff's 1-thread samples/s) against ff's own at T threads. Both speeds and the
    balance come from this run; it pays where the simultaneous schedule's thread efficiency
    (ff at T threads over T x ff at 1) is below team x balance / T."""
    measured = pipelined_ratios(points)
    if not measured:
        return []
    rows, model_rows = schedule_rows(run, measured)
    sample = next(iter(measured.values()))[1]
    lines = [f"Pipelined over simultaneous schedule (`{experiment}`, B {sample['point']['batch']}): train samples/s of "
             "ff-pipelined over ff's at the same width, depth and thread count. The pipelined schedule runs each "
             "layer's products and kernels on one thread and its layers on min(threads, depth) stage threads at "
             "once (largest layer first, each to the least-loaded thread; a layer costs in x out); the simultaneous "
             "one runs every layer on all threads, one after another. Stage balance: the stage threads' mean load "
             "over the largest. The stage model: stage threads x balance x ff's 1-thread samples/s over ff's at "
             "these threads, all measured in this run; the pipeline pays where ff's thread efficiency is below "
             "stage threads x balance / threads.\n"]
    lines += table(["width", "depth", "threads", "pipelined / simultaneous", "stage balance", "ff thread efficiency",
                    "stage model"], rows)
    run.findings.extend(schedule_findings(experiment, measured, model_rows))
    if model_rows:
        lines.append(schedule_plot(run, experiment, model_rows))
    return lines


def schedule_rows(run, measured):
    """The table's rows, and (depth, width, threads, ratio, model, balance, efficiency) where the stage
    model applies (2 threads or more, ff measured at 1 thread at the same shape)."""
    pool = [q for q in run.ok if q["point"]["measure"] == "throughput"]
    rows, model_rows = [], []
    for (depth, width, threads), (ratio, ff) in sorted(measured.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
        team, balance = stage_balance(model_dims(ff), threads) or (min(threads, depth), None)
        single = one_thread_ff(pool, ff)
        if single and threads > 1 and balance:
            efficiency = ff["train"]["samples_per_s_median"] / (threads * single["train"]["samples_per_s_median"])
            model = team * balance / (threads * efficiency)
            model_rows.append((depth, width, threads, ratio, model, balance, efficiency))
            model_text, efficiency_text = f"{model:.2f}x", f"{100 * efficiency:.0f}%"
        else:
            model_text = "1 thread" if threads == 1 else "n/a (no 1-thread ff at this shape in the run)"
            efficiency_text = "-"
        rows.append([width, depth, threads, f"{ratio:.2f}x" + (" (depth < threads)" if depth < threads else ""),
                     f"{team} thread{'s' if team > 1 else ''}" + (f", {100 * balance:.0f}%" if balance else ""),
                     efficiency_text, model_text])
    return rows, model_rows


def schedule_findings(experiment, measured, model_rows):
    ratio = {key: r for key, (r, _) in measured.items()}
    best = max(ratio, key=ratio.get)
    worst = min(ratio, key=ratio.get)
    several = ", ".join(f"{ratio[k]:.2f}x (w{k[1]} d{k[0]} t{k[2]})"
                        for k in sorted(ratio, key=lambda k: (k[1], k[0], k[2])) if k[0] >= k[2] > 1)
    findings = [
        f"Pipelined against simultaneous FF ({experiment}): from {ratio[worst]:.2f}x (width {worst[1]}, depth {worst[0]}, "
        f"{worst[2]} thread{'s' if worst[2] > 1 else ''}) to {ratio[best]:.2f}x (width {best[1]}, depth {best[0]}, {best[2]} "
        f"thread{'s' if best[2] > 1 else ''}) the simultaneous schedule's train throughput"
        + (f"; at depth >= threads > 1 {several}." if several else ".")]
    if model_rows:
        errors = [m / r - 1 for _, _, _, r, m, _, _ in model_rows]
        pays = [(w, d, t, r, m) for d, w, t, r, m, _, _ in model_rows if r > 1.0]
        findings.append(
            f"The stage model of the pipelined schedule ({experiment}) is within {100 * min(errors):+.0f} to "
            f"{100 * max(errors):+.0f}% of the measured ratio on {len(model_rows)} points of 2 threads or more"
            + (f"; the pipeline pays at {', '.join(f'w{w} d{d} t{t} ({r:.2f}x, model {m:.2f}x)' for w, d, t, r, m in pays)}: "
               "there its stages balance better than ff's thread efficiency" if pays else
               f"; it pays at none of them (the model's highest: {max(m for *_, m, _, _ in model_rows):.2f}x): ff's thread "
               "efficiency is at or above what the stages' balance allows")
            + ".")
    return findings


def schedule_plot(run, experiment, model_rows):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for depth, threads in sorted({(d, t) for d, _, t, *_ in model_rows}):
        series = sorted((w, r, m) for d, w, t, r, m, _, _ in model_rows if (d, t) == (depth, threads))
        line = ax.plot([w for w, _, _ in series], [r for _, r, _ in series], marker="o", label=f"depth {depth}, {threads} threads: measured")
        ax.plot([w for w, _, _ in series], [m for _, _, m in series], linestyle="--", color=line[0].get_color(),
                label=f"depth {depth}, {threads} threads: stage model")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xlabel("width")
    ax.set_ylabel("pipelined / simultaneous train samples/s")
    ax.set_title(f"{experiment}: where the pipelined schedule pays")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return run.save(fig, f"schedule_model_{experiment}.png", "pipelined over simultaneous, measured and modelled")
