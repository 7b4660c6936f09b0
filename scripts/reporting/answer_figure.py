"""The answer's headline figure (scripts/report.py puts it under the verdicts): time to each accuracy
target per algorithm, the performance profile over the run's workloads (AlgoPerf's summary figure),
throughput against depth relative to depth 1, and FF's epoch cost against BP's with what it is made of.
Each panel is drawn from the same result files as the verdicts; a panel without data is left out."""
from reporting.answer import sweep
from reporting.common import med, plt
from reporting.verdict import best_mode, rates, single_process


def workloads(points):
    """{(experiment, target): {label: median seconds to target, or None where not every seed reached it}}:
    a workload is a (network, target) of one convergence experiment; times are training seconds."""
    out = {}
    for p in single_process(points):
        if p["point"]["measure"] != "convergence" or not p.get("time_to_target"):
            continue
        label = p["point"]["label"]
        mode = best_mode([q for q in points if q["point"]["label"] == label
                          and q["point"]["experiment"] == p["point"]["experiment"]])
        for target, hit in ((p.get("time_to_target") or {}).get(mode) or {}).items():
            key = (p["point"]["experiment"], p.get("model"), float(target))
            out.setdefault(key, {}).setdefault(label, []).append(hit["seconds"] if hit else None)
    return {k: {l: (med(s) if None not in s else None) for l, s in v.items()} for k, v in out.items()}


def performance_profile(loads, taus):
    """For each label, the fraction of workloads it brings to the target within tau x the fastest label's
    time, at each tau (a workload no label reached counts against every label)."""
    labels = sorted({l for v in loads.values() for l in v})
    profile = {}
    for label in labels:
        fractions = []
        for tau in taus:
            within = 0
            for per_label in loads.values():
                times = [t for t in per_label.values() if t is not None]
                mine = per_label.get(label)
                if times and mine is not None and mine <= tau * min(times):
                    within += 1
            fractions.append(within / len(loads))
        profile[label] = fractions
    return profile


def draw(run, found):
    """Saves plots/answer.png and returns its markdown line, or None when there is nothing to draw."""
    loads = workloads(run.ok)
    depth = sweep(run.ok, "depth")
    cost = next((v for v in found if v.key == "epoch_cost" and v.value), None)
    candidates = ((tta_panel, loads, loads), (profile_panel, loads, len(loads) >= 1), (depth_panel, depth, depth),
                  (cost_panel, cost, cost))
    panels = [(panel, data) for panel, data, present in candidates if present]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8))
    axes = [axes] if len(panels) == 1 else list(axes)
    for ax, (panel, data) in zip(axes, panels):
        panel(ax, data)
        ax.grid(alpha=0.3)
    fig.suptitle("The answer: " + (run.manifest.get("cpu_model") or "?") + f", {run.manifest.get('hardware_threads')} threads, "
                 f"{run.manifest.get('onednn_isa')}", fontsize=10)
    return run.save(fig, "answer.png", "The answer in pictures: time to target, the performance profile, depth, the epoch's cost").strip()


def tta_panel(ax, loads):
    """Training seconds to each target per label, the first three workloads (`convergence` first)."""
    keys = sorted(loads, key=lambda k: (k[0] != "convergence", k))[:3]
    labels = sorted({l for k in keys for l in loads[k]}, key=lambda l: (l not in ("bp", "ff"), l))
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        values = [loads[key].get(l) or 0 for l in labels]
        ax.bar([x + i * width for x in range(len(labels))], values, width=width, label=f"{100 * key[2]:g} %")
    ax.set_xticks([x + width * (len(keys) - 1) / 2 for x in range(len(labels))])
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("training seconds to target (0: not reached)")
    ax.set_title("time to accuracy target")
    ax.legend(fontsize=8)


def profile_panel(ax, loads):
    times = [t for v in loads.values() for t in v.values() if t]
    top = max(8.0, max(times) / min(times) * 1.1) if times else 8.0
    taus = [1.0 + (top - 1.0) * i / 200 for i in range(201)]
    for label, fractions in sorted(performance_profile(loads, taus).items()):
        ax.step(taus, fractions, where="post", label=label, linewidth=2 if label in ("bp", "ff") else 1)
    ax.set_xscale("log")
    ax.set_xlabel("tau (x the fastest algorithm's time)")
    ax.set_ylabel("fraction of workloads at target")
    ax.set_title(f"performance profile ({len(loads)} workloads)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)


def depth_panel(ax, depth):
    experiment = sorted(depth, key=lambda e: (e != "depth", e))[0]
    for label, series in sorted(depth[experiment].items()):
        ds = sorted(series)
        base = med(rates(series[ds[0]]))
        ax.plot(ds, [med(rates(series[d])) / base for d in ds], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("depth (hidden layers)")
    ax.set_ylabel(f"train samples/s relative to depth {min(next(iter(depth[experiment].values())))}")
    ax.set_title("scaling with depth")
    ax.legend(fontsize=8)


def cost_panel(ax, cost):
    """FF's epoch over BP's beside what it is made of (the epoch_cost verdict's facts)."""
    facts = cost.facts
    bars = [("epoch time", cost.value)]
    if "flops_ratio" in facts:
        bars.append(("matmul FLOPs", facts["flops_ratio"]))
    if "efficiency_ratio" in facts:
        bars += [("1 / ceiling fraction", 1.0 / facts["efficiency_ratio"]), ("rest", facts["rest"])]
    ax.bar([b[0] for b in bars], [b[1] for b in bars], color=["tab:red"] + ["tab:gray"] * (len(bars) - 1))
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_ylabel("FF over BP (x)")
    ax.set_title("FF's epoch against BP's")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
