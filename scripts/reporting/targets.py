"""The report's "Performance targets, each with its measured figure" (issue 7 and issue 16): every
target the run has a figure for, met or missed, and for each missed fraction of the GEMM ceiling the
step's profile (the GEMMs' share and rate, the worst shape, the plain-layout bound, the parts outside
the products, the update against the memory roof) in a section of its own, so a table cell holds one
line. The texts beside a figure are in targets_text.py."""
import json
from collections import defaultdict

from reporting.common import concurrent_gemms, fmt_num, med, points_model, slope, table
from reporting.peers import PEER_GEMM_FAIR, peer_gemm_share, peer_marked
from reporting.schedule import pipelined_ratios
from reporting.speed import parts_outside_products, update_traffic
from reporting.targets_text import against_goal, paired_text, plain_layout_bound


def targets_section(run):
    throughput = [p for p in run.ok if p["point"]["measure"] == "throughput"]
    rows, why = ceiling_rows(throughput)
    rows += pytorch_rows(run, throughput)
    rows += packed_weights_rows(throughput) if throughput else []
    rows += fused_rows(throughput) + goodness_rows(throughput) + activation_rows(throughput)
    rows += bf16_rows(run, throughput) + variant_rows(run) + pipelined_rows(throughput) + thread_rows(throughput)
    if not rows:
        return []
    lines = ["## Performance targets, each with its measured figure", "",
             "Every figure is computed from this run's result files. A 'missed' row is a measured shortfall: "
             "`scripts/dev/profile_step.sh FILTER` profiles that step (oneDNN, our kernels, the OpenMP runtime) to "
             "show where the time goes. A missed fraction of the GEMM ceiling splits into three measured "
             "factors: the plain-layout bound (the ceiling takes per shape the faster of the layout the step "
             "runs and oneDNN's blocked, untransposed one, which a training step cannot keep: its weights and "
             "activations change every step and are read transposed in the backward pass), the GEMMs' rate "
             "in the step against that, and the step's time outside the GEMMs.", ""]
    lines += table(["target", "measured", "status"], rows)
    if why:
        lines += ["", "### Why the missed targets missed", "",
                  "Each missed target's figure with its paired rounds, and the step's profile: the GEMMs' share of the "
                  "step and their rate against the ceiling, the shape that loses the most, the plain-layout bound, "
                  "the largest parts outside the products and the update against the memory roof.", ""] + why + [""]
    return lines


def option(p, name, default):
    return p["point"].get("options", {}).get(name, default)


def plain(p):
    """f32, the default schedule."""
    return option(p, "precision", "f32") == "f32" and option(p, "schedule", "simultaneous") == "simultaneous"


def missed_cell(target, measured, profile, why):
    """A missed target's cell: its figure and a link to its profile, which goes to `why`."""
    why.append(f"- **{target}**: {measured}; profile: {profile}.")
    return f"{measured.split(' (')[0]} ([why](#why-the-missed-targets-missed))"


def gemm_profile_text(p, profile, goal):
    """The step's GEMMs against their ceiling: share, rate, the worst shape, the plain-layout bound."""
    if not profile:
        return "no step profile (a result from before it was recorded)"
    if concurrent_gemms(p, profile):
        return "GEMMs run on several threads at once: their time share and rate do not compare with the ceiling"
    # The shape that loses the most step time against its ceiling: time share x (1 - in-step rate / ceiling).
    worst = max(profile.get("shapes", []), default=None,
                key=lambda s: s["time_share"] * (1 - s["gflops_in_step"] / s["ceiling_gflops"]) if s["ceiling_gflops"] else 0)
    median = profile.get("gemm_fraction_of_ceiling_median_in_step")
    alone = profile.get("gemm_rate_vs_alone")
    text = (f"GEMMs {100 * profile['gemm_time_share']:.0f}% of the step at {100 * profile['gemm_fraction_of_ceiling_in_step']:.0f}% "
            f"of their ceiling" + (f" ({100 * median:.0f}% of its median timing)" if median else "") +
            (f", {100 * alone:.0f}% of their own speed alone in the same layouts (rounds after each window)" if alone else "") +
            f"; outside them {100 * max(0.0, 1 - profile['gemm_time_share']):.0f}%")
    if worst and worst["ceiling_gflops"]:
        text += (f"; {worst['m']}x{worst['n']}x{worst['k']}{' A^T' if worst['trans_a'] else ''}{' B^T' if worst['trans_b'] else ''} "
                 f"loses most: {worst['gflops_in_step']:.0f} of {worst['ceiling_gflops']:.0f} GFLOP/s, {100 * worst['time_share']:.0f}% of the step")
    bound = plain_layout_bound(p, profile)
    if bound is not None:
        text += (f"; plain-layout bound {100 * bound:.0f}% (the step's GEMMs in the layouts it runs, at their own "
                 f"isolated speed, nothing outside them)")
        if bound < goal:
            text += (f", below the {100 * goal:.0f}% target: no change outside the products can meet it, only "
                     f"faster products in these layouts or other layouts")
    return text


def outside_parts_text(p):
    """The largest parts of the step that hold no product (the algorithm's lap clock), and the update
    against the memory roof."""
    outside = list(parts_outside_products(p).items())[:3]
    if not outside:
        return ""
    text = ("; largest parts outside the products: " + ", ".join(f"{name} {us:.0f} us" for name, us in outside) +
            f" (of a {p['step_parts']['step_us']:.0f} us step)")
    traffic = update_traffic(p) if p["point"]["label"] in ("bp", "ff") else None
    if traffic:
        us, moved, gbps, roof = traffic
        text += (f"; the update reads and writes {moved / 1e6:.1f} MB (weights, gradients, optimizer state) in {us:.0f} us: "
                 f"{gbps:.1f} GB/s, {100 * gbps / roof:.0f}% of the memory roof ({roof:.1f} GB/s, a pass with its mix over "
                 f"arrays past the caches, same process; {moved / (roof * 1e9) * 1e6:.0f} us at the roof"
                 + ("; above it: part of its traffic was served from cache, the gradient just written, the weights just read"
                    if gbps > roof else "") + ")")
    return text


def ceiling_rows(throughput):
    """Issue 16's targets, at every thread count the run measured (B >= 256, f32, the default schedule):
    the rows, and the missed ones' profiles."""
    rows, why = [], []
    for algorithm, goals in (("ff", ((500, 0.80), (1000, 0.90))), ("bp", ((500, 0.90),))):
        candidates = [p for p in throughput if p["point"]["label"] == algorithm and plain(p) and p["point"]["batch"] >= 256
                      and len(set(p["point"]["hidden"])) == 1 and p["point"]["experiment"].startswith("width")]
        for p in sorted(candidates, key=lambda q: (q["point"]["threads"], q["point"]["hidden"][0])):
            width = p["point"]["hidden"][0]
            goal = max((g for w, g in goals if width >= w), default=None)
            if goal is None:
                continue
            fraction = p["train"]["roofline_fraction"]
            met = fraction >= goal
            target = (f"{algorithm} train >= {100 * goal:.0f}% of the GEMM ceiling (width {width}, B {p['point']['batch']}, "
                      f"{p['point']['threads']} thread{'s' if p['point']['threads'] > 1 else ''})")
            measured = against_goal(fraction, goal) + paired_text(p["train"], (p.get("roofline") or {}).get("gflops"))
            if met:
                rows.append([target, measured, "met"])
            else:
                profile = gemm_profile_text(p, p.get("step_profile"), goal) + outside_parts_text(p)
                rows.append([target, missed_cell(target, measured, profile, why), "missed"])
            for mode, inference in sorted(p.get("inference", {}).items()):
                if width < 1000 or "roofline_fraction" not in inference:
                    continue
                fraction = inference["roofline_fraction"]
                target = (f"{algorithm} {mode} inference >= 90% of its GEMM ceiling (width {width}, B {p['point']['batch']}, "
                          f"{p['point']['threads']} thread{'s' if p['point']['threads'] > 1 else ''})")
                measured = against_goal(fraction, 0.9) + paired_text(inference, inference.get("roofline_gflops"))
                if fraction >= 0.9:
                    rows.append([target, measured, "met"])
                else:
                    profile = gemm_profile_text(p, inference.get("profile"), 0.9)
                    rows.append([target, missed_cell(target, measured, profile, why), "missed"])
    return rows, why


def pytorch_rows(run, throughput):
    """ffbench's epoch against PyTorch's, per algorithm (goal: 2x), with how far ffbench's side could move."""
    rows = []
    per_epoch = defaultdict(list)
    ours = {(p["point"]["experiment"], p["point"]["algorithm"], p["point"]["seed"], json.dumps(p["point"]["options"], sort_keys=True)): p
            for p in run.ok if p["point"]["measure"] == "convergence"}
    for t in run.peers:
        q = t["point"]
        match = ours.get((q["experiment"], q["algorithm"], q["seed"], json.dumps(q["options"], sort_keys=True)))
        if q["measure"] == "convergence" and match and q["experiment"] != "reference":
            a, b = match["epochs"][-1], t["epochs"][-1]
            per_epoch[q["algorithm"]].append((b["train_seconds"] / b["epoch"]) / (a["train_seconds"] / a["epoch"]))
    for algorithm, ratios in sorted(per_epoch.items()):
        share = peer_gemm_share(run, algorithm)
        text = peer_marked(f"{med(ratios):.2f}x (median of {len(ratios)})", share)
        verdict = "met" if med(ratios) >= 2 else "missed"
        # How far ffbench's side could move: its training steps in this configuration (the matching
        # throughput point) at their fraction of the GEMM ceiling; at 100 % an epoch could be at most
        # that much shorter (an epoch is its steps and a little more).
        twin = next((p for p in throughput if p["point"]["algorithm"] == algorithm and plain(p) and
                     any(t["point"]["algorithm"] == algorithm and t["point"]["measure"] == "convergence" and
                         (t["point"]["hidden"], t["point"]["batch"], t["point"]["threads"]) ==
                         (p["point"]["hidden"], p["point"]["batch"], p["point"]["threads"]) for t in run.peers)
                     and p["train"].get("roofline_fraction")), None)
        if twin and verdict == "missed":
            fraction = twin["train"]["roofline_fraction"]
            text += (f"; ffbench's steps in this configuration run at {100 * fraction:.0f}% of their GEMM ceiling "
                     f"({twin['id']}): at 100% the ratio would be at most {med(ratios) / fraction:.2f}x")
        if share is not None and share < PEER_GEMM_FAIR:
            verdict += " (against a handicapped peer: not a fair comparison)"
        rows.append([f"{algorithm}: >= 2x PyTorch per epoch", text, verdict])
    return rows


def packed_weights_rows(throughput):
    rows = []
    # Inference products read the weights packed where packing_choice measured a gain with the same bits.
    packed, profiled = set(), set()
    for p in throughput:
        for mode, inference in p.get("inference", {}).items():
            for shape in (inference.get("profile") or {}).get("shapes", []):
                key = f"{shape['m']}x{shape['n']}x{shape['k']}"
                if "packed_b_share" in shape:
                    profiled.add(key)
                    if shape["packed_b_share"] > 0:
                        packed.add(key)
    if profiled and not packed:
        rows.append(["weights in oneDNN's preferred (blocked) layout where it pays (inference)",
                     f"none of {len(profiled)} inference GEMM shapes read packed weights in this run "
                     f"(FFB_PACKED_WEIGHTS=off, or no shape's timing favoured packing)", "not used in this run"])
    elif profiled:
        rows.append(["weights in oneDNN's preferred (blocked) layout where it pays (inference)",
                     f"{len(packed)} of {len(profiled)} inference GEMM shapes read packed weights, each chosen by a "
                     f"timing at setup (>= 1 % faster, same bits); training keeps row-major weights (they change "
                     f"every step)", "done (inference)"])
    else:
        rows.append(["weights in oneDNN's preferred (blocked) layout where it pays",
                     "not recorded: a run from before packed inference weights (its profiles have no packed_b_share)",
                     "not done"])
    return rows


def fused_rows(throughput):
    rows = []
    for p in throughput:
        if p["point"]["label"] in ("bp", "ff") and p["point"]["hidden"] == [2000, 2000] and p["point"]["batch"] >= 256 \
                and p["point"]["experiment"] == "precision":
            step_ms = p["train"]["step_ms_median"]
            outside = max(0.0, 1 - p["train"]["roofline_fraction"])
            rows.append([f"{p['point']['label']}: elementwise work fused (share of the step outside the GEMMs)",
                         f"{p['model']}, B {p['point']['batch']}: {100 * outside:.0f}% of {step_ms:.1f} ms", "see profile"])
    return rows


def goodness_rows(throughput):
    rows = []
    seen_threads = set()
    for p in sorted(throughput, key=lambda q: (q["point"]["threads"], q["point"]["batch"] != 256)):
        inference = p.get("inference", {})
        if p["point"]["label"] == "ff" and p["point"]["hidden"] == [500, 500] and "goodness" in inference and "softmax" in inference \
                and p["point"]["threads"] not in seen_threads:
            seen_threads.add(p["point"]["threads"])  # one row per thread count (the issue asks for 1 and 2)
            ratio = inference["softmax"]["samples_per_s_median"] / inference["goodness"]["samples_per_s_median"]
            flops = p["flops_per_sample"]["inference"]
            threads = p["point"]["threads"]
            rows.append([f"ff goodness prediction <= 4.7x one-pass (MNIST shape, {threads} thread{'s' if threads > 1 else ''}; "
                         f"FLOP floor 4.47x)",
                         f"{ratio:.2f}x in time, {flops['goodness'] / flops['softmax']:.2f}x in matmul FLOPs "
                         f"({p['point']['experiment']}, B {p['point']['batch']})", "met" if ratio <= 4.7 else "missed"])
    return rows


def activation_rows(throughput):
    rows = []
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
    return rows


def bf16_rows(run, throughput):
    rows = []
    precision = {p["point"]["label"]: p for p in throughput if p["point"]["experiment"] == "precision"}
    for algorithm in ("bp", "ff"):
        if algorithm in precision and f"{algorithm}-bf16" in precision:
            speedup = precision[f"{algorithm}-bf16"]["train"]["samples_per_s_median"] / precision[algorithm]["train"]["samples_per_s_median"]
            rows.append([f"{algorithm} bf16 >= 3x f32 train throughput at width 2000",
                         f"{speedup:.2f}x ({precision[algorithm]['model']}, B {precision[algorithm]['point']['batch']}; "
                         f"oneDNN ISA {run.manifest.get('onednn_isa')})", "met" if speedup >= 3 else "missed"])
    return rows


def variant_rows(run):
    """bf16 and the pipelined schedule against their base: accuracy after the same epochs, epoch speed."""
    rows = []
    convergence = [p for p in run.ok if p["point"]["measure"] == "convergence"]
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
    return rows


def pipelined_rows(throughput):
    rows = []
    schedule = [p for p in throughput if p["point"]["experiment"].startswith("schedule")]
    for (_, _, thread_count), (ratio, ff) in sorted(pipelined_ratios(schedule).items()):
        rows.append(["pipelined ff schedule against simultaneous (train throughput)",
                     f"{ff['model']}, B {ff['point']['batch']}, {thread_count} thread{'s' if thread_count > 1 else ''}: {ratio:.2f}x",
                     "measured"])
    return rows


def thread_rows(throughput):
    rows = []
    threads = [p for p in throughput if p["point"]["experiment"] == "threads"]
    for label in sorted({p["point"]["label"] for p in threads}):
        series = sorted((p["point"]["threads"], p["train"]["samples_per_s_median"]) for p in threads if p["point"]["label"] == label)
        if len(series) >= 2 and series[0][0] == 1:
            n, rate = series[-1]
            efficiency = rate / (series[0][1] * n)
            machine = machine_scaling([p for p in threads if p["point"]["label"] == label], n)
            rows.append([f"{label}: thread efficiency 1 -> N (goal 70% at 16 threads, width 2000)",
                         f"{100 * efficiency:.0f}% at {n} threads ({points_model(threads, label)}){machine}",
                         "not measurable here" if n < 16 else ("met" if efficiency >= 0.7 else "missed")])
    return rows


def machine_scaling(points, n):
    """The machine's own efficiency 1 -> n threads, from the same points: its peak FMA rate and the
    step's GEMM ceiling, each measured in the 1-thread and the n-thread point. Where the machine's
    compute does not scale (shared FMA units of hyperthreads, an all-core clock below the one-core
    clock), no code's efficiency can, and the row says so beside the goal."""
    at = {p["point"]["threads"]: p for p in points}
    if 1 not in at or n not in at:
        return ""
    parts = []
    fma = [(at[t].get("peak_fma") or {}).get("gflops") for t in (1, n)]
    if all(fma):
        parts.append(f"its peak FMA rate {fma[0]:.0f} -> {fma[1]:.0f} GFLOP/s: {100 * fma[1] / (n * fma[0]):.0f}%")
    roof = [(at[t].get("roofline") or {}).get("gflops") for t in (1, n)]
    if all(roof):
        parts.append(f"the step's GEMM ceiling {roof[0]:.0f} -> {roof[1]:.0f}: {100 * roof[1] / (n * roof[0]):.0f}%")
    return f"; the machine's own efficiency 1 -> {n} threads, same points: {', '.join(parts)}" if parts else ""
