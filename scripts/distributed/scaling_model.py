#!/usr/bin/python3
"""The scaling model of "past one machine" (bench/README.md): an alpha-beta network model combined with
compute times measured on this machine, predicting time per step and speed-up of FF's layer
pipeline, FF data-parallel and BP data-parallel at N = 1..64 ranks, validated against the np = 2
runs that scripts/distributed/measure_distributed.sh measured beside the np = 1 ones.

The model, per training step of a global batch B (one thread per rank):
  compute    from the np = 1 runs of the same command (median over repeats of the last epoch):
             FF pipeline: C_pipe, the whole network's step, split over the layers in proportion to
             their multiply-adds (in x out); data-parallel: C(b) = a + c b, the line through the
             np = 1 step times at b = B and b = B/2, evaluated at the slice b = B/N.
  network    a message of n bytes takes alpha + n / beta (alpha, beta measured by `ffbench pingpong`
             between two ranks of this machine, or a preset below);
  pipeline   layers cut into N contiguous blocks as the C++ code cuts them (the largest block as
             small as possible); T(N) = max over ranks of its block's compute + one boundary
             message (2B x H floats), not overlapped (the code posts it non-blocking; the model
             charges it in full: an upper bound). N is at most the number of layers.
  data       T(N) = C(B/N) + per layer and per parameter buffer (weights, bias) one ring
             allreduce (blocking, as the code does): 2 (N-1) alpha + 2 (N-1)/N x bytes / beta
             + (N-1)/N x bytes x gamma, gamma the local cost per byte of the reduction (additions and
             copies), calibrated once from `ffbench pingpong`'s own MPI_Allreduce timing on this
             machine (what its allreduce costs beyond the ring's transfers) and kept for every network.
Usage: /usr/bin/python3 scripts/distributed/scaling_model.py RUN_FOLDER   (writes MODEL.md, model.json, scaling.png there)
"""
import glob
import json
import math
import os
import statistics
import sys

# Network presets: nominal line rates; latencies are typical orders of magnitude for MPI over
# that fabric (assumptions, not measurements; the measured pair is the one from this machine).
PRESETS = {
    "25 GbE (TCP)": (25e-6, 25e9 / 8),
    "100 GbE (RoCE)": (5e-6, 100e9 / 8),
    "400 GbE (RoCE)": (3e-6, 400e9 / 8),
    "InfiniBand HDR 200 Gb/s": (1.5e-6, 200e9 / 8),
}
RANKS = [1, 2, 4, 8, 16, 32, 64]
TOLERANCE = 0.15  # the model's error on the measured np = 2 points must stay within this


def median_step(folder, name, batch):
    """Median over repeats of the last epoch's seconds per step of a configuration (None if absent)."""
    rates = []
    for path in sorted(glob.glob(os.path.join(folder, f"{name}.r*.json"))):
        with open(path) as f:
            result = json.load(f)
        if result.get("status") != "ok" or not result.get("epochs"):
            continue
        rates.append(result["epochs"][-1]["samples_per_second"])
    if not rates:
        return None, 0
    return batch / statistics.median(rates), len(rates)


def partition(costs, ranks):
    """Contiguous blocks minimising the largest block's cost (as ForwardForward::partition_layers)."""
    n = len(costs)
    prefix = [0.0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    best = [[math.inf] * (n + 1) for _ in range(ranks + 1)]
    cut = [[0] * (n + 1) for _ in range(ranks + 1)]
    best[0][0] = 0.0
    for r in range(1, ranks + 1):
        for i in range(r, n + 1):
            for j in range(r - 1, i):
                largest = max(best[r - 1][j], prefix[i] - prefix[j])
                if largest < best[r][i]:
                    best[r][i], cut[r][i] = largest, j
    bounds = [n] * (ranks + 1)
    for r in range(ranks, 0, -1):
        bounds[r - 1] = cut[r][bounds[r]]
    return bounds


def message(alpha, beta, nbytes):
    return alpha + nbytes / beta


def pipeline_step(widths, batch, compute, ranks, alpha, beta):
    """Seconds per step of FF's pipeline over `ranks` ranks; None when there are fewer layers."""
    macs = [widths[i] * widths[i + 1] for i in range(len(widths) - 1)]
    if ranks > len(macs):
        return None
    if ranks == 1:
        return compute
    bounds = partition(macs, ranks)
    total = sum(macs)
    worst = 0.0
    for r in range(ranks):
        block = sum(macs[bounds[r]:bounds[r + 1]]) / total * compute
        boundary = bounds[r + 1]
        send = message(alpha, beta, 2 * batch * widths[boundary] * 4) if r + 1 < ranks else 0.0
        worst = max(worst, block + send)
    return worst


GAMMA = [0.0]  # seconds per byte of local reduction work (set in main from the measured allreduce)


def allreduce(alpha, beta, nbytes, ranks):
    if ranks == 1:
        return 0.0
    return 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * nbytes / beta + (ranks - 1) / ranks * nbytes * GAMMA[0]


def data_step(widths, batch, line, ranks, alpha, beta, output_layer):
    """Seconds per step of data parallelism: the slice's compute plus blocking allreduces."""
    a, c = line
    step = a + c * batch / ranks
    sizes = list(widths) + ([10] if output_layer else [])
    for i in range(len(sizes) - 1):
        step += allreduce(alpha, beta, sizes[i] * sizes[i + 1] * 4, ranks)  # weights
        step += allreduce(alpha, beta, sizes[i + 1] * 4, ranks)             # bias
    return step


def fit_line(t_full, t_half, batch):
    """C(b) = a + c b through (B, t_full) and (B/2, t_half)."""
    c = (t_full - t_half) / (batch - batch / 2)
    return t_full - c * batch, c


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) == 2 else 2
    folder = sys.argv[1]
    try:
        with open(os.path.join(folder, "setup.json")) as f:
            setup = json.load(f)
        with open(os.path.join(folder, "pingpong.json")) as f:
            pingpong = json.load(f)
    except (OSError, ValueError) as e:
        print(f"scaling_model: {folder} is not a measure_distributed.sh folder ({e}); run "
              "scripts/distributed/measure_distributed.sh first", file=sys.stderr)
        return 2
    widths = [int(w) for w in setup["layers"].split(",")]
    batch = int(setup["batch"])
    alpha, beta = pingpong["alpha_us"] * 1e-6, pingpong["beta_gbytes_per_s"] * 1e9
    measured_allreduce = pingpong.get("allreduce")
    calibrate_gamma(measured_allreduce, beta)
    steps = measured_steps(folder, batch)
    missing = [n for n, v in steps.items() if v is None]
    if missing:
        print(f"scaling_model: no finished runs for {', '.join(missing)} in {folder}", file=sys.stderr)
        return 2
    ff_line = fit_line(steps["ff-np1"], steps["ff-np1-half"], batch)
    bp_line = fit_line(steps["bp-np1"], steps["bp-np1-half"], batch)
    predict = predictor(steps, widths, batch, ff_line, bp_line)
    validation = validate(predict, steps, alpha, beta)
    out = {"setup": setup, "alpha_us": alpha * 1e6, "beta_gbytes_per_s": beta * 1e-9, "gamma_ns_per_byte": GAMMA[0] * 1e9,
           "allreduce_measured": measured_allreduce, "steps_s": steps,
           "ff_line": ff_line, "bp_line": bp_line, "validation": validation, "tolerance": TOLERANCE,
           "predictions": predictions(predict, batch, alpha, beta), "grid_100gbe": grid_100gbe(predict, widths, batch),
           "presets": {k: {"alpha_us": v[0] * 1e6, "beta_gbytes_per_s": v[1] * 1e-9} for k, v in PRESETS.items()}}
    with open(os.path.join(folder, "model.json"), "w") as f:
        json.dump(out, f, indent=2)
    write_markdown(folder, out)
    plot(folder, out)
    worst = max(abs(v["error"]) for v in validation)
    print(f"scaling_model: wrote MODEL.md, model.json, scaling.png in {folder}; largest error at np = 2: {100 * worst:.1f}% "
          f"({'within' if worst <= TOLERANCE else 'OUTSIDE'} ±{100 * TOLERANCE:.0f}%)")
    return 0


def calibrate_gamma(measured_allreduce, beta):
    """The reduction's local cost per byte (GAMMA), from the allreduce measured over n ranks, where recorded."""
    if measured_allreduce and measured_allreduce.get("gbytes_per_s", 0) > 0 and measured_allreduce.get("ranks", 0) > 1:
        n = measured_allreduce["ranks"]
        per_byte = 1.0 / (measured_allreduce["gbytes_per_s"] * 1e9)
        GAMMA[0] = max(0.0, per_byte - 2 * (n - 1) / n / beta) * n / (n - 1)


def measured_steps(folder, batch):
    """Run name -> its median step time in seconds (None: no finished run)."""
    half = batch // 2
    steps = {}
    for name, b in [("ff-pipeline-np1", batch), ("ff-pipeline-np2", batch), ("ff-np1", batch), ("ff-np1-half", half),
                    ("ff-data-np2", batch), ("bp-np1", batch), ("bp-np1-half", half), ("bp-data-np2", batch)]:
        steps[name], _ = median_step(folder, name, b)
    return steps


def predictor(steps, widths, batch, ff_line, bp_line):
    """predict(kind, ranks, alpha, beta, layer widths): the model's step time, compute scaled from the
    measured network to `w` by multiply-adds."""
    def predict(kind, n, a, b, w=widths):
        if kind == "ff pipeline":
            compute = steps["ff-pipeline-np1"] * (sum(w[i] * w[i + 1] for i in range(len(w) - 1)) /
                                                  sum(widths[i] * widths[i + 1] for i in range(len(widths) - 1)))
            return pipeline_step(w, batch, compute, n, a, b)
        line = ff_line if kind == "ff data" else bp_line
        scale = (sum(w[i] * w[i + 1] for i in range(len(w) - 1)) /
                 sum(widths[i] * widths[i + 1] for i in range(len(widths) - 1)))
        return data_step(w, batch, (line[0] * scale, line[1] * scale), n, a, b, output_layer=kind == "bp data")
    return predict


def validate(predict, steps, alpha, beta):
    """The model against the measurements at np = 2 on this machine."""
    validation = []
    for kind, measured_name, single_name in [("ff pipeline", "ff-pipeline-np2", "ff-pipeline-np1"),
                                             ("ff data", "ff-data-np2", "ff-np1"), ("bp data", "bp-data-np2", "bp-np1")]:
        predicted = predict(kind, 2, alpha, beta)
        measured = steps[measured_name]
        validation.append({"mode": kind, "measured_step_s": measured, "predicted_step_s": predicted,
                           "error": predicted / measured - 1, "measured_speedup": steps[single_name] / measured,
                           "predicted_speedup": steps[single_name] / predicted})
    return validation


def predictions(predict, batch, alpha, beta):
    """Step time and samples/s per network (this machine's, the presets), mode and rank count."""
    networks = {"this machine (measured)": (alpha, beta), **PRESETS}
    found = []
    for network, (a, b) in networks.items():
        for kind in ("ff pipeline", "ff data", "bp data"):
            for n in RANKS:
                t = predict(kind, n, a, b)
                if t is not None:
                    found.append({"network": network, "mode": kind, "ranks": n, "step_s": t, "samples_per_s": batch / t})
    return found


def grid_100gbe(predict, widths, batch):
    """Across depth and width on a 100 GbE cluster: where FF's pipeline beats BP data-parallel."""
    a100, b100 = PRESETS["100 GbE (RoCE)"]
    grid = []
    for depth in (4, 8, 16, 32, 64):
        for width in (1000, 2000, 4000):
            w = [widths[0]] + [width] * depth
            for n in RANKS:
                ff = predict("ff pipeline", n, a100, b100, w)
                bp = predict("bp data", n, a100, b100, w)
                if ff is None:
                    continue
                grid.append({"depth": depth, "width": width, "ranks": n, "ff_pipeline_samples_per_s": batch / ff,
                             "bp_data_samples_per_s": batch / bp, "ff_over_bp": bp / ff})
    return grid


def write_markdown(folder, out):
    setup = out["setup"]
    lines = ["# Past one machine: the scaling model and its validation\n",
             f"Measured by `scripts/distributed/measure_distributed.sh` on {setup['cpu']} ({setup['cores']} cores), revision "
             f"{setup['revision']}: layers {setup['layers']}, batch {setup['batch']}, {setup['dataset']} "
             f"({setup['limit_train']} training images, {setup['epochs']} epochs, the last one timed), "
             f"{setup['repeats']} repeats (medians), 1 thread per rank. Network between two ranks of this machine "
             f"(`ffbench pingpong`): alpha {out['alpha_us']:.2f} us, beta {out['beta_gbytes_per_s']:.2f} GB/s; "
             f"the reduction's local cost gamma {out['gamma_ns_per_byte']:.3f} ns per byte (from its measured "
             f"MPI_Allreduce: {(out['allreduce_measured'] or {}).get('gbytes_per_s', 0):.2f} GB/s over "
             f"{(out['allreduce_measured'] or {}).get('ranks', 0)} ranks).\n",
             "## Validation at np = 2 (this machine)\n",
             "| mode | np = 1 step (s) | np = 2 measured (s) | np = 2 predicted (s) | error | measured speed-up | predicted speed-up |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    singles = {"ff pipeline": "ff-pipeline-np1", "ff data": "ff-np1", "bp data": "bp-np1"}
    for v in out["validation"]:
        lines.append(f"| {v['mode']} | {out['steps_s'][singles[v['mode']]]:.4f} | {v['measured_step_s']:.4f} | "
                     f"{v['predicted_step_s']:.4f} | {100 * v['error']:+.1f}% | {v['measured_speedup']:.2f}x | "
                     f"{v['predicted_speedup']:.2f}x |")
    lines.append(f"\nTolerance ±{100 * out['tolerance']:.0f}%. Two ranks on two cores share the memory bandwidth and "
                 "the last-level cache; more ranks than cores would time-share them (oversubscribed), which no "
                 "measurement here can separate from the model's error, so none is made.\n")
    lines.append("## Predicted samples/s per network (the measured shape)\n")
    networks = sorted({p["network"] for p in out["predictions"]}, key=lambda n: (n != "this machine (measured)", n))
    lines.append("| network | mode | " + " | ".join(f"N={n}" for n in RANKS) + " |")
    lines.append("| --- | --- | " + " | ".join("---" for _ in RANKS) + " |")
    for network in networks:
        for kind in ("ff pipeline", "ff data", "bp data"):
            row = {p["ranks"]: p["samples_per_s"] for p in out["predictions"] if p["network"] == network and p["mode"] == kind}
            lines.append(f"| {network} | {kind} | " + " | ".join(f"{row[n]:.0f}" if n in row else "-" for n in RANKS) + " |")
    lines.append("\nFF's pipeline cannot use more ranks than layers (one block per rank).\n")
    lines.append("## Where FF's pipeline beats BP data-parallel (100 GbE preset)\n")
    lines.append("FF pipeline samples/s over BP data-parallel samples/s at the same number of ranks (above 1: FF's "
                 "pipeline trains more samples per second; FF does more work per sample than BP, so this compares "
                 "throughput, not time to an accuracy).\n")
    lines.append("| depth x width | " + " | ".join(f"N={n}" for n in RANKS) + " |")
    lines.append("| --- | " + " | ".join("---" for _ in RANKS) + " |")
    shapes = sorted({(g["depth"], g["width"]) for g in out["grid_100gbe"]})
    for depth, width in shapes:
        row = {g["ranks"]: g["ff_over_bp"] for g in out["grid_100gbe"] if g["depth"] == depth and g["width"] == width}
        lines.append(f"| {depth} x {width} | " + " | ".join(f"{row[n]:.2f}" if n in row else "-" for n in RANKS) + " |")
    wins = [g for g in out["grid_100gbe"] if g["ff_over_bp"] > 1]
    if wins:
        lines.append(f"\nFF's pipeline is ahead in {len(wins)} of {len(out['grid_100gbe'])} (shape, N) cases, the first at "
                     f"depth {min(wins, key=lambda g: (g['ranks'], g['depth']))['depth']} from N = "
                     f"{min(g['ranks'] for g in wins)}.")
    else:
        lines.append("\nFF's pipeline is behind BP data-parallel in every case of this grid.")
    lines.append("\n## The model\n")
    model_text = "The model, per training step" + (__doc__ or "").split("The model, per training step")[1].split("Usage:")[0]
    lines.append("```\n" + model_text.rstrip() + "\n```\n")
    lines.append("Network presets (nominal line rates; latencies are assumed typical values, not measured):\n")
    for name, p in out["presets"].items():
        lines.append(f"- {name}: alpha {p['alpha_us']:.1f} us, beta {p['beta_gbytes_per_s']:.2f} GB/s")
    with open(os.path.join(folder, "MODEL.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def plot(folder, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("scaling_model: matplotlib missing for /usr/bin/python3 (apt-get install python3-matplotlib): no plot",
              file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = {"ff pipeline": "tab:red", "ff data": "tab:orange", "bp data": "tab:blue"}
    styles = {"this machine (measured)": "-", "25 GbE (TCP)": ":", "100 GbE (RoCE)": "--", "InfiniBand HDR 200 Gb/s": "-."}
    for network, style in styles.items():
        for kind, color in colors.items():
            points = sorted((p["ranks"], p["samples_per_s"]) for p in out["predictions"]
                            if p["network"] == network and p["mode"] == kind)
            if points:
                axes[0].plot(*zip(*points), style, color=color, label=f"{kind}, {network}" if network in
                             ("this machine (measured)", "25 GbE (TCP)") else None, alpha=0.8)
    singles = {"ff pipeline": "ff-pipeline-np1", "ff data": "ff-np1", "bp data": "bp-np1"}
    batch = out["setup"]["batch"]
    for v in out["validation"]:
        color = colors[v["mode"]]
        axes[0].plot([1, 2], [batch / out["steps_s"][singles[v["mode"]]], batch / v["measured_step_s"]], "o", color=color,
                     markersize=7, markeredgecolor="black")
    axes[0].set_xscale("log", base=2)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("ranks (1 thread each)")
    axes[0].set_ylabel("samples/s")
    axes[0].set_title(f"{out['setup']['layers']}, batch {batch}: model (lines), measured (dots)")
    axes[0].legend(fontsize=7)
    for width, style in ((1000, ":"), (2000, "-"), (4000, "--")):
        for depth, color in ((4, "tab:green"), (16, "tab:purple"), (64, "tab:brown")):
            points = sorted((g["ranks"], g["ff_over_bp"]) for g in out["grid_100gbe"] if g["depth"] == depth and g["width"] == width)
            if points:
                axes[1].plot(*zip(*points), style, color=color, label=f"depth {depth}, width {width}")
    axes[1].axhline(1.0, color="black", linewidth=0.8)
    axes[1].set_xscale("log", base=2)
    axes[1].set_xlabel("ranks")
    axes[1].set_ylabel("FF pipeline / BP data-parallel (samples/s)")
    axes[1].set_title("100 GbE preset: above 1, FF's pipeline trains faster")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "scaling.png"), dpi=110)


if __name__ == "__main__":
    sys.exit(main())
