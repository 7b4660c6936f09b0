"""The answer a run gives, first: one verdict per question the run has evidence for (scripts/report.py puts
them at the top of REPORT.md; scripts/findings.py sets them side by side across machines). The questions
of FF against BP are here, the family's and PyTorch's in answer_family.py; reporting/verdict.py says how
a verdict is made.
"""
from reporting.answer_family import family_accuracy, family_speed, pytorch
from reporting.common import med, slope
from reporting.verdict import (BETTER, FASTER, SLOWER, WITHHELD, WORSE, Verdict, accuracy_word, best_mode, compare,
                               label_points, rates, ratio_interval, single_process, slug, spread_text)


# ---- the questions -------------------------------------------------------------------------------

def convergence_pair(points):
    """The experiment where ff and bp trained the same network at the same batch (the first such by
    name, `convergence` first): (experiment, ff points, bp points), or None."""
    groups = {}
    for p in single_process(points):
        if p["point"]["measure"] == "convergence" and p.get("epochs"):
            groups.setdefault(p["point"]["experiment"], []).append(p)
    for experiment in sorted(groups, key=lambda e: (e != "convergence", e)):
        ff, bp = label_points(groups[experiment], "ff"), label_points(groups[experiment], "bp")
        if ff and bp and ff[0].get("model") == bp[0].get("model") and ff[0]["point"]["batch"] == bp[0]["point"]["batch"]:
            return experiment, ff, bp, groups[experiment]
    return None


def epoch_seconds(point):
    """Training seconds of each epoch (evaluation excluded; `train_seconds` is cumulative)."""
    epochs = point["epochs"]
    return [e["train_seconds"] - (epochs[i - 1]["train_seconds"] if i else 0.0) for i, e in enumerate(epochs)]


def per_epoch_samples(points):
    """Seconds per epoch: one per seed (each seed's mean) where there are several seeds, else each epoch."""
    if len(points) > 1:
        return [p["epochs"][-1]["train_seconds"] / p["epochs"][-1]["epoch"] for p in points], f"{len(points)} seeds"
    seconds = epoch_seconds(points[0])
    return seconds, f"{len(seconds)} epochs of one seed"


def throughput_twin(points, label, model, batch, threads):
    """The throughput point of `label` at the same model, batch and threads (any experiment; one timed
    at initialisation first), or None."""
    twins = [p for p in single_process(points) if p["point"]["measure"] == "throughput" and p["point"]["label"] == label
             and p.get("model") == model and p["point"]["batch"] == batch and p["point"]["threads"] == threads
             and (p.get("train") or {}).get("roofline_fraction")]
    return min(twins, key=lambda p: (p["point"].get("trained_epochs", 0), p["point"]["experiment"]), default=None)


def epoch_cost(points):
    pair = convergence_pair(points)
    if pair is None:
        return None
    experiment, ff, bp, _ = pair
    question = "FF's cost per epoch against BP"
    anchor = slug(f"Convergence: `{experiment}`")
    ff_s, ff_what = per_epoch_samples(ff)
    bp_s, bp_what = per_epoch_samples(bp)
    if min(len(ff_s), len(bp_s)) < 2:
        return Verdict("epoch_cost", question, WITHHELD, "one epoch of one seed on a side: no spread to compare.", anchor)
    ratio, low, high = ratio_interval(ff_s, bp_s)
    model, batch, threads = ff[0].get("model"), ff[0]["point"]["batch"], ff[0]["point"]["threads"]
    parts = ""
    flops_ff, flops_bp = (ff[0].get("flops_per_sample") or {}).get("train"), (bp[0].get("flops_per_sample") or {}).get("train")
    twin_ff, twin_bp = (throughput_twin(points, label, model, batch, threads) for label in ("ff", "bp"))
    facts = {}
    if flops_ff and flops_bp:
        flops = flops_ff / flops_bp
        parts = f" Made of: {flops:.2f}x BP's matmul FLOPs"
        facts["flops_ratio"] = flops
        if twin_ff and twin_bp:
            eff_ff, eff_bp = twin_ff["train"]["roofline_fraction"], twin_bp["train"]["roofline_fraction"]
            rest = ratio / (flops * eff_bp / eff_ff)
            parts += (f", run at {eff_ff / eff_bp:.2f}x BP's fraction of the GEMM ceiling ({100 * eff_ff:.0f} % against "
                      f"{100 * eff_bp:.0f} %, `{twin_ff['point']['experiment']}`), the rest {rest:.2f}x (the ceilings of "
                      "their shapes, work between steps)")
            facts.update(efficiency_ratio=eff_ff / eff_bp, rest=rest)
        parts += "."
    what = ff_what if ff_what == bp_what else f"{ff_what} (FF) and {bp_what} (BP)"
    text = (f"{ratio:.2f}x BP's training time per epoch ({med(ff_s):.2f} s against {med(bp_s):.2f} s, {model}, B {batch}, "
            f"{threads} thread(s); {spread_text(low, high, what)}).{parts}")
    return Verdict("epoch_cost", question, compare(low, high, SLOWER, FASTER), text, anchor, ratio, (low, high), facts)


def reached_seconds(points, mode_of, target):
    """Per seed, the seconds to `target` in the point's mode (None where a seed did not reach it)."""
    out = []
    for p in points:
        per_target = (p.get("time_to_target") or {}).get(mode_of(p)) or {}
        hit = next((v for k, v in per_target.items() if abs(float(k) - target) < 1e-9), None)
        out.append(hit["seconds"] if hit else None)
    return out


def time_to_targets(points):
    pair = convergence_pair(points)
    if pair is None:
        return []
    experiment, ff, bp, _ = pair
    targets = sorted({t for p in ff + bp for t in p["point"].get("targets", [])})
    split = ff[0].get("time_to_target_split") or "test"
    anchor = slug(f"Convergence: `{experiment}`")
    modes = {"ff": best_mode(ff), "bp": best_mode(bp)}
    verdicts = []
    for target in targets:
        question = f"Time to {100 * target:g} % accuracy, FF against BP"
        seconds = {label: reached_seconds(pts, lambda p, l=label: modes[l], target) for label, pts in (("ff", ff), ("bp", bp))}
        reached = {label: [s for s in values if s is not None] for label, values in seconds.items()}
        epochs = ff[0]["point"]["epochs"]
        trained = {label: med([p["epochs"][-1]["train_seconds"] for p in pts]) for label, pts in (("ff", ff), ("bp", bp))}
        key = f"time_to_{100 * target:g}"
        all_ff, all_bp = len(reached["ff"]) == len(ff), len(reached["bp"]) == len(bp)
        seeds = f"{len(ff)} and {len(bp)} seeds"
        if all_ff and all_bp:
            if min(len(ff), len(bp)) < 2:
                verdicts.append(Verdict(key, question, WITHHELD, f"FF {med(reached['ff']):.1f} s, BP {med(reached['bp']):.1f} s, "
                                        "but one seed on a side: no spread to compare.", anchor))
                continue
            ratio, low, high = ratio_interval(reached["ff"], reached["bp"])
            text = (f"{ratio:.2f}x on the {split} split: FF {med(reached['ff']):.1f} s ({modes['ff']}) against BP {med(reached['bp']):.1f} s "
                    f"(training time, median; {spread_text(low, high, seeds)}).")
            verdicts.append(Verdict(key, question, compare(low, high, SLOWER, FASTER), text, anchor, ratio, (low, high)))
        elif all_bp and not reached["ff"]:
            bound = trained["ff"] / max(reached["bp"])
            text = (f"on the {split} split, FF did not reach it in {epochs} epochs ({trained['ff']:.0f} s of training) in any of {len(ff)} seed(s); "
                    f"BP did in {med(reached['bp']):.1f} s (all {len(bp)} seeds): more than {bound:.1f}x.")
            verdicts.append(Verdict(key, question, SLOWER, text, anchor, None, (bound, None)))
        elif all_ff and not reached["bp"]:
            bound = trained["bp"] / max(reached["ff"])
            text = (f"on the {split} split, BP did not reach it in {epochs} epochs in any of {len(bp)} seed(s); FF did in {med(reached['ff']):.1f} s: "
                    f"BP more than {bound:.1f}x.")
            verdicts.append(Verdict(key, question, FASTER, text, anchor, None, (None, 1.0 / bound)))
        else:
            text = (f"on the {split} split, reached by {len(reached['ff'])} of {len(ff)} FF seeds and {len(reached['bp'])} of {len(bp)} BP seeds "
                    f"within {epochs} epochs: the run cannot time both.")
            verdicts.append(Verdict(key, question, WITHHELD, text, anchor))
    return verdicts


def best_accuracy(points):
    pair = convergence_pair(points)
    if pair is None:
        return None
    experiment, ff, bp, _ = pair
    anchor = slug(f"Convergence: `{experiment}`")
    question = "Best accuracy within the run, FF against BP"
    split = "test"
    acc = {}
    for label, pts in (("ff", ff), ("bp", bp)):
        mode = best_mode(pts)
        acc[label] = ([(p.get("final_accuracy") or {}).get(mode) for p in pts], mode)
    ff_a, bp_a = [a for a in acc["ff"][0] if a is not None], [a for a in acc["bp"][0] if a is not None]
    if not ff_a or not bp_a:
        return None
    epochs = ff[0]["point"]["epochs"]
    text = (f"FF {100 * med(ff_a):.2f} % ({acc['ff'][1]}; {100 * min(ff_a):.2f}-{100 * max(ff_a):.2f} over {len(ff_a)} seeds) "
            f"against BP {100 * med(bp_a):.2f} % ({100 * min(bp_a):.2f}-{100 * max(bp_a):.2f} over {len(bp_a)} seeds), "
            f"final {split} accuracy after {epochs} epochs.")
    if min(len(ff_a), len(bp_a)) < 2:
        return Verdict("best_accuracy", question, WITHHELD, text + " One seed on a side: no spread to compare.", anchor)
    return Verdict("best_accuracy", question, accuracy_word(ff_a, bp_a), text, anchor, med(ff_a) - med(bp_a))


def sweep(points, axis, experiment_filter=None):
    """{experiment: {label: {axis value: point}}} of throughput experiments swept over `axis` with ff and bp."""
    found = {}
    for p in single_process(points):
        if p["point"]["measure"] != "throughput" or p["point"]["label"] not in ("ff", "bp"):
            continue
        value = len(p["point"]["hidden"]) if axis == "depth" else p["point"]["threads"]
        found.setdefault(p["point"]["experiment"], {}).setdefault(p["point"]["label"], {})[value] = p
    return {e: by_label for e, by_label in found.items()
            if len(by_label) == 2 and all(len(v) >= 2 for v in by_label.values())
            and len({tuple(sorted(v)) for v in by_label.values()}) == 1}


def activation_slope(series):
    """Bytes of peak live activations per layer over the sweep's depths (least squares, as the depth section)."""
    depths = sorted(series)
    live = [(series[d].get("memory") or {}).get("peak_live_activations") for d in depths]
    return None if None in live else slope(depths, live)


def first_sweep(points, axis):
    """(experiment, {label: {value: point}}, (smallest, largest value of ff's)) of the sweep over
    `axis` (the experiment named so first), or None."""
    found = sweep(points, axis)
    if not found:
        return None
    experiment = sorted(found, key=lambda e: (e != axis, e))[0]
    values = sorted(found[experiment]["ff"])
    return experiment, found[experiment], (values[0], values[-1])


def depth_scaling(points):
    found = first_sweep(points, "depth")
    if found is None:
        return None
    experiment, series, (first, last) = found
    falls = {}
    for label in ("ff", "bp"):
        at_first, at_last = rates(series[label][first]), rates(series[label][last])
        falls[label] = ratio_interval(at_first, at_last)  # how many times slower at the deepest point
    # FF scales better when its fall is smaller: BP's fall over FF's, above 1 where FF loses less.
    low, high = falls["bp"][1] / falls["ff"][2], falls["bp"][2] / falls["ff"][1]
    slope = {label: activation_slope(series[label]) for label in ("ff", "bp")}
    memory = ""
    if slope["ff"] is not None and slope["bp"] is not None:
        memory = (f" Peak live activations grow {slope['ff'] / 1024:.0f} KiB per layer for FF against "
                  f"{slope['bp'] / 1024:.0f} KiB for BP.")
    model_width = series["ff"][first]["point"]["hidden"][0]
    text = (f"from depth {first} to {last} (width {model_width}) FF's training throughput fell {falls['ff'][0]:.1f}x "
            f"({falls['ff'][1]:.1f}-{falls['ff'][2]:.1f}), BP's {falls['bp'][0]:.1f}x ({falls['bp'][1]:.1f}-{falls['bp'][2]:.1f}), "
            f"over the {len(rates(series['ff'][first]))} timed repeats of each point.{memory}")
    word = compare(low, high, BETTER, WORSE)
    return Verdict("depth", "Scaling with depth, FF against BP", word, text, slug(f"Throughput: `{experiment}` (sweep over depth)"),
                   falls["bp"][0] / falls["ff"][0], (low, high))


def machine_thread_efficiency(one, many, threads):
    """The machine's own: the GEMM ceiling of the same shapes at `threads` over `threads` x at one thread."""
    a, b = (one.get("roofline") or {}).get("gflops"), (many.get("roofline") or {}).get("gflops")
    return b / (threads * a) if a and b else None


def thread_scaling(points):
    found = first_sweep(points, "threads")
    if found is None:
        return None
    experiment, series, (one, many) = found
    scale = many / one
    eff = {}
    for label in ("ff", "bp"):
        r, low, high = ratio_interval(rates(series[label][many]), rates(series[label][one]))
        eff[label] = (r / scale, low / scale, high / scale)
    machine = [machine_thread_efficiency(series[label][one], series[label][many], scale) for label in ("ff", "bp")]
    machine_text = (f"; the machine's own GEMM on the same shapes {100 * med(machine):.0f} %" if None not in machine else "")
    text = (f"efficiency from {one} to {many} threads: FF {100 * eff['ff'][0]:.0f} % ({100 * eff['ff'][1]:.0f}-{100 * eff['ff'][2]:.0f}), "
            f"BP {100 * eff['bp'][0]:.0f} % ({100 * eff['bp'][1]:.0f}-{100 * eff['bp'][2]:.0f}) over the timed repeats"
            f"{machine_text}.")
    word = compare(eff["ff"][1] / eff["bp"][2], eff["ff"][2] / eff["bp"][1], BETTER, WORSE)
    facts = {"machine_thread_efficiency": med(machine)} if None not in machine else {}
    return Verdict("threads", "Scaling with threads, FF against BP", word, text,
                   slug(f"Throughput: `{experiment}` (sweep over threads)"), eff["ff"][0] / eff["bp"][0], None, facts)


def epoch_rates(point):
    """Samples per second of each epoch (the slowest rank's, for a distributed point)."""
    epochs = point.get("epochs") or []
    return [e["samples_per_second"] for e in epochs if e.get("samples_per_second")]


def last_epoch_rate(point):
    rates = epoch_rates(point)
    return rates[-1] if rates else None


def rank_speedups(points, link=None):
    """{experiment: {(algorithm, mode): (speed-up, low, high, ranks, what)}}: each distributed mode over
    its one-process counterpart (same experiment and label) over a given link (None: shared memory).
    The samples are the seeds' last-epoch rates where there are several seeds, else the epochs' rates."""
    out = {}
    for p in points:
        q = p["point"]
        if q.get("distributed", "none") == "none" or q.get("link") != link:
            continue
        key = (q["algorithm"], q["distributed"])
        if key in out.get(q["experiment"], {}):
            continue
        mine = [t for t in points if t["point"]["experiment"] == q["experiment"] and t["point"]["label"] == q["label"]
                and t["point"].get("distributed") == q["distributed"] and t["point"].get("link") == link]
        twin = [t for t in points if t["point"]["experiment"] == q["experiment"] and t["point"]["label"] == q["label"]
                and t["point"].get("distributed", "none") == "none"]
        if len(mine) > 1 and len(twin) > 1:
            rates, base, what = [last_epoch_rate(t) for t in mine], [last_epoch_rate(t) for t in twin], f"{len(mine)} seeds"
        else:
            rates, base, what = epoch_rates(mine[0]), [r for t in twin for r in epoch_rates(t)], "the epochs of one seed"
        rates, base = [r for r in rates if r], [r for r in base if r]
        if rates and base:
            out.setdefault(q["experiment"], {})[key] = ratio_interval(rates, base) + (q.get("ranks", 2), what)
    return out


def ranks_verdict(points, link=None):
    found = rank_speedups(points, link)
    if not found:
        return None
    experiment = sorted(found, key=lambda e: (e != "distributed", e))[0]
    speedups = found[experiment]
    pipeline, bp_data = speedups.get(("ff", "pipeline")), speedups.get(("bp", "data"))
    where = {None: "over shared memory", "unshaped": "over the unshaped emulated link"}.get(link, f"over a {link} link")
    key = f"ranks_{link}" if link else "ranks"
    question = f"Scaling with ranks {where}, FF's pipeline against BP's data parallelism"
    anchor = slug("Over a network: FF's pipeline against BP's data parallelism over emulated links") if link else \
        slug("Past one machine: FF's layer pipeline and data parallelism over MPI")
    if pipeline is None or bp_data is None:
        missing = "FF's pipeline" if pipeline is None else "BP's data parallelism"
        return Verdict(key, question, WITHHELD, f"the run has no distributed point of {missing}.", anchor)
    ff_data = speedups.get(("ff", "data"))
    ff_data_text = f", FF's data parallelism {ff_data[0]:.2f}x" if ff_data else ""
    others = len(found) - 1
    text = (f"over {pipeline[3]} ranks, FF's pipeline {pipeline[0]:.2f}x one process ({pipeline[1]:.2f}-{pipeline[2]:.2f}) "
            f"against BP's data parallelism {bp_data[0]:.2f}x ({bp_data[1]:.2f}-{bp_data[2]:.2f}){ff_data_text}; spread over "
            f"{pipeline[4]}, `{experiment}`{f' (and {others} more network(s) in its section)' if others else ''}.")
    word = compare(pipeline[1] / bp_data[2], pipeline[2] / bp_data[1], BETTER, WORSE)
    return Verdict(key, question, word, text, anchor, pipeline[0] / bp_data[0])


def staleness(points):
    """Does FF's pipelined schedule (one step stale between layers: what the distributed pipeline
    computes) cost accuracy against the simultaneous schedule, same epochs and seeds?"""
    # The suites' `staleness` experiment first, else the one that trained on the most samples.
    def order(experiment):
        samples = max((p.get("train_samples") or 0) * p["point"].get("epochs", 1) for p in points if p["point"]["experiment"] == experiment)
        return (experiment != "staleness", -samples, experiment)
    for experiment in sorted({p["point"]["experiment"] for p in points}, key=order):
        mine = [p for p in single_process(points) if p["point"]["experiment"] == experiment
                and p["point"]["measure"] == "convergence" and p["point"]["algorithm"] == "ff"]
        piped = [p for p in mine if (p["point"].get("options") or {}).get("schedule") == "pipelined"]
        plain = [p for p in mine if (p["point"].get("options") or {}).get("schedule", "simultaneous") == "simultaneous"]
        if not piped or not plain:
            continue
        mode = best_mode(plain)
        a = [(p.get("final_accuracy") or {}).get(mode) for p in piped]
        b = [(p.get("final_accuracy") or {}).get(mode) for p in plain]
        a, b = [x for x in a if x is not None], [x for x in b if x is not None]
        if not a or not b:
            continue
        text = (f"the pipelined schedule {100 * med(a):.2f} % ({100 * min(a):.2f}-{100 * max(a):.2f} over {len(a)} seeds) against "
                f"the simultaneous one {100 * med(b):.2f} % ({100 * min(b):.2f}-{100 * max(b):.2f}), {mode}, final test "
                f"accuracy after {piped[0]['point']['epochs']} epochs, `{experiment}`.")
        question = "FF's pipeline staleness (a layer trains on the step-old output below), its cost in accuracy"
        if min(len(a), len(b)) < 2:
            return Verdict("staleness", question, WITHHELD, text + " One seed on a side.", slug(f"Convergence: `{experiment}`"))
        return Verdict("staleness", question, accuracy_word(a, b), text, slug(f"Convergence: `{experiment}`"), med(a) - med(b))
    return None


def network_verdicts(points):
    links = sorted({p["point"]["link"] for p in points if p["point"].get("link")})
    return [v for v in (ranks_verdict(points, link) for link in links) if v]


def verdicts(run):
    """Every verdict the run has evidence for, in the answer's order."""
    points, algorithms = run.ok, run.algorithms()
    found = [epoch_cost(points)] + time_to_targets(points) + [best_accuracy(points), depth_scaling(points),
                                                              thread_scaling(points), ranks_verdict(points)]
    found += network_verdicts(points) + [staleness(points)]
    found += [family_accuracy(points, algorithms), family_speed(points, algorithms), pytorch(run)]
    return [v for v in found if v is not None]


def answer_lines(found, figure=None):
    """The report's opening section: at most 15 lines of verdicts (and the headline figure's line)."""
    lines = ["## The answer", ""]
    if not found:
        return lines + ["This run has no pair of measurements from which a verdict can be computed "
                        "(it needs FF and BP in the same experiment).", ""]
    lines += [v.line() for v in found[:15]]
    lines.append("")
    if figure:
        lines += [figure, ""]
    return lines
