"""The report's "Throughput drift through training" (issue 17): per-epoch samples/s of every convergence
run relative to its second epoch (the first carries warm-up: page faults, oneDNN's JIT, cold caches),
flushing subnormals against keeping them where the run has both, and the throughput points timed again
after training."""
import json
from collections import defaultdict

from reporting.common import fmt_num, med, plt, table


def drift_section(run):
    convergence = [p for p in run.ok + run.peers if p["point"]["measure"] == "convergence"
                   and len([e for e in p.get("epochs", []) if e.get("samples_per_second")]) >= 3]
    after = [p for p in run.ok if p.get("train_after_training")]
    if not convergence and not after:
        return []
    lines = ["## Throughput drift through training", "",
             "Training samples/s of each epoch relative to epoch 2 (epoch 1 carries warm-up), median over "
             "seeds. Subnormal floats make some x86 cores slow down once weights and optimizer moments "
             "decay toward zero; ffbench flushes them (FTZ/DAZ) unless a point says `denormals: keep`.", ""]
    lines += drift_lines(run, convergence)
    lines += flush_against_keep_lines(run, convergence)
    if after:
        lines += after_training_lines(after)
    return lines


def drift_lines(run, convergence):
    """Each (experiment, label, denormals)'s epochs relative to epoch 2: a table and one plot."""
    series = defaultdict(list)  # (experiment, label, denormals) -> per-seed relative rates
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
            run.findings.append(f"Throughput drift through training, {label} ({denormals} denormals): epochs 2-{length} "
                                f"ran at {100 * min(late):.0f}-{100 * max(late):.0f}% of epoch 2's samples/s"
                                + (" (flat)." if drift >= 0.9 else "."))
    ax.axhline(90, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("samples/s, % of epoch 2")
    ax.set_title("training throughput through training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    lines = table(["experiment", "algorithm", "denormals", "seeds", "epoch 1", "epochs 2..N", "verdict"], rows)
    return lines + [run.save(fig, "throughput_drift.png", "training throughput per epoch relative to epoch 2")]


def flush_against_keep_lines(run, convergence):
    """The same configuration and seed with FTZ/DAZ and with IEEE subnormals, where the run has both."""
    flush_keep = defaultdict(dict)
    for p in convergence:
        if p["point"].get("engine", "ffbench") != "ffbench":
            continue
        setting = (p.get("denormals") or {}).get("setting")
        per_epoch = p["epochs"][-1]["train_seconds"] / p["epochs"][-1]["epoch"]
        flush_keep[(p["point"]["algorithm"], p["model"], p["point"]["batch"], p["point"]["seed"],
                    json.dumps({k: v for k, v in p["point"]["options"].items()}, sort_keys=True))][setting] = (per_epoch, p)
    pairs = [(k, v) for k, v in flush_keep.items() if "flush" in v and "keep" in v]
    if not pairs:
        return []
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
        run.findings.append(f"Denormals, {algorithm} {model}: {flush:.2f} s/epoch with FTZ/DAZ against {keep:.2f} "
                            f"with IEEE subnormals ({keep / flush:.2f}x) on {run.manifest.get('cpu_model')}.")
    return (["Flushing subnormals (FTZ/DAZ) against keeping them, same configuration and seed:", ""]
            + table(["algorithm", "model", "B", "seed", "s/epoch flush", "s/epoch keep", "keep / flush",
                     "final test accuracy flush vs keep", "subnormal values at the end (keep)"], rows))


def after_training_lines(after):
    rows = []
    for p in sorted(after, key=lambda q: q["id"]):
        a = p["train_after_training"]
        census = a.get("census", {}).get("by_category", {})
        subnormal = ", ".join(f"{c} {v['subnormal']}" for c, v in census.items() if v.get("subnormal"))
        rows.append([p["point"]["label"], p["model"], p["point"]["batch"],
                     (p.get("denormals") or {}).get("setting", "?"), a["epochs"],
                     fmt_num(p["train"]["samples_per_s_median"]), fmt_num(a["samples_per_s_median"]),
                     f"{a['ratio_to_init']:.2f}x", subnormal or "none"])
    return (["Throughput points timed again after training on the dataset (real batches):", ""]
            + table(["algorithm", "model", "B", "denormals", "epochs trained first", "samples/s at init",
                     "samples/s after", "after / init", "subnormal values after"], rows))
