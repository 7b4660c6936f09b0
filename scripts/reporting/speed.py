"""Speed sections of the report: throughput sweeps, memory, threads, inference, the roofline, drift through training."""
import re

from reporting.common import *  # noqa: F401,F403  (plt, helpers, the published figures)


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


class SpeedSections:
    def throughput(self):
        groups = self.by_experiment("throughput")
        for experiment, points in sorted(groups.items()):
            axes = self.axes_of(points)
            axis = axes[0] if axes else None
            self.lines += [f"## Throughput: `{experiment}`" + (f" (sweep over {' x '.join(axes)})" if axes else ""), ""]
            self.lines.append("Train samples/s over steady-state windows (warm-up excluded; median of repeats), GFLOP/s from "
                              "the analytic FLOPs, and the fraction of the GEMM ceiling measured on the same shapes in the "
                              "same process (per shape the faster of oneDNN's plain and blocked layouts). 'step in GEMMs': the share of the "
                              "step's wall time spent inside oneDNN's matmuls, and in brackets their rate there as a fraction "
                              "of the same shapes' ceiling, and of the ceiling's median timing (the ceiling is the fastest of 5 "
                              "timings; a step's rate is an average, so the machine's own timing spread separates the two): "
                              "the roofline fraction is about the share times the rate, so a shortfall is either work outside "
                              "the GEMMs or GEMMs slower in the step than alone.\n")
            rows = []
            for p in sorted(points, key=lambda q: (q["point"]["label"], *(self.axis_value(q, a) for a in reversed(axes)))):
                t = p["train"]
                mem = p["memory"]
                inference = ", ".join(f"{m}: {fmt_num(v['samples_per_s_median'])}" for m, v in p.get("inference", {}).items())
                profile = p.get("step_profile")
                in_gemm = "not recorded"
                if profile and self.concurrent_gemms(p, profile):
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
            self.table(["algorithm", "model", "B", "threads", "train samples/s", "range", "GFLOP/s", "GEMM roofline GFLOP/s",
                        "of roofline", "step in GEMMs (their rate)", "inference samples/s", "peak live act. MiB", "arena MiB", "peak RSS MiB"], rows)
            if axis:
                for name, series in self.split_by(experiment, points, axes[1:]):
                    self.sweep_plots(name, series, axis)
                self.schedule_table(experiment, points)
            self.inference_plot(experiment, points)
        self.outside_gemm_findings()

    def outside_gemm_findings(self):
        """How the step's two parts scale with threads: the same training configuration (algorithm,
        model, batch, options; every experiment that measured it) at its fewest and most threads,
        the GEMMs' time per step against the time outside them (from the step profile's GEMM share),
        medians over the points at each thread count."""
        groups = defaultdict(lambda: defaultdict(list))
        for p in self.ok:
            profile = p.get("step_profile")
            if p["point"]["measure"] != "throughput" or not profile or self.concurrent_gemms(p, profile):
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
            self.findings.append(
                f"{label} {model}, B {batch}, {few} -> {many} threads ({counts}, medians): the GEMMs' time per step fell "
                f"{gemm_a / gemm_b:.2f}x ({gemm_a:.2f} -> {gemm_b:.2f} ms), the time outside them {out_a / out_b:.2f}x "
                f"({out_a:.2f} -> {out_b:.2f} ms); the share outside the GEMMs went from {100 * out_a / (gemm_a + out_a):.0f}% "
                f"to {100 * out_b / (gemm_b + out_b):.0f}%." + self.parts_scaling(by_threads[few], by_threads[many]) +
                self.update_roof_scaling(by_threads[few], by_threads[many], few, many))

    @staticmethod
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

    @staticmethod
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

    def schedule_table(self, experiment, points):
        """The pipelined schedule's train throughput over the simultaneous one's, per width, depth and
        thread count, beside the stage model's ratio: the pipeline runs each layer at one thread's
        speed and lasts, per step, as long as its most loaded stage thread, so it reaches
        team x balance x (ff's 1-thread samples/s) against ff's own at T threads. Both speeds and the
        balance come from this run; it pays where the simultaneous schedule's thread efficiency
        (ff at T threads over T x ff at 1) is below team x balance / T."""
        measured = pipelined_ratios(points)
        if not measured:
            return
        pool = [q for q in self.ok if q["point"]["measure"] == "throughput"]
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
        sample = next(iter(measured.values()))[1]
        self.lines.append(f"Pipelined over simultaneous schedule (`{experiment}`, B {sample['point']['batch']}): train samples/s of "
                          "ff-pipelined over ff's at the same width, depth and thread count. The pipelined schedule runs each "
                          "layer's products and kernels on one thread and its layers on min(threads, depth) stage threads at "
                          "once (largest layer first, each to the least-loaded thread; a layer costs in x out); the simultaneous "
                          "one runs every layer on all threads, one after another. Stage balance: the stage threads' mean load "
                          "over the largest. The stage model: stage threads x balance x ff's 1-thread samples/s over ff's at "
                          "these threads, all measured in this run; the pipeline pays where ff's thread efficiency is below "
                          "stage threads x balance / threads.\n")
        self.table(["width", "depth", "threads", "pipelined / simultaneous", "stage balance", "ff thread efficiency",
                    "stage model"], rows)
        ratio = {key: r for key, (r, _) in measured.items()}
        best = max(ratio, key=ratio.get)
        worst = min(ratio, key=ratio.get)
        several = ", ".join(f"{ratio[k]:.2f}x (w{k[1]} d{k[0]} t{k[2]})"
                            for k in sorted(ratio, key=lambda k: (k[1], k[0], k[2])) if k[0] >= k[2] > 1)
        self.findings.append(
            f"Pipelined against simultaneous FF ({experiment}): from {ratio[worst]:.2f}x (width {worst[1]}, depth {worst[0]}, "
            f"{worst[2]} thread{'s' if worst[2] > 1 else ''}) to {ratio[best]:.2f}x (width {best[1]}, depth {best[0]}, {best[2]} "
            f"thread{'s' if best[2] > 1 else ''}) the simultaneous schedule's train throughput"
            + (f"; at depth >= threads > 1 {several}." if several else "."))
        if model_rows:
            errors = [m / r - 1 for _, _, _, r, m, _, _ in model_rows]
            pays = [(w, d, t, r, m) for d, w, t, r, m, _, _ in model_rows if r > 1.0]
            self.findings.append(
                f"The stage model of the pipelined schedule ({experiment}) is within {100 * min(errors):+.0f} to "
                f"{100 * max(errors):+.0f}% of the measured ratio on {len(model_rows)} points of 2 threads or more"
                + (f"; the pipeline pays at {', '.join(f'w{w} d{d} t{t} ({r:.2f}x, model {m:.2f}x)' for w, d, t, r, m in pays)}: "
                   "there its stages balance better than ff's thread efficiency" if pays else
                   f"; it pays at none of them (the model's highest: {max(m for *_, m, _, _ in model_rows):.2f}x): ff's thread "
                   "efficiency is at or above what the stages' balance allows")
                + ".")
            self.schedule_plot(experiment, model_rows)

    def schedule_plot(self, experiment, model_rows):
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
        self.save(fig, f"schedule_model_{experiment}.png", "pipelined over simultaneous, measured and modelled")

    def sweep_plots(self, experiment, points, axis):
        labels = sorted({p["point"]["label"] for p in points})
        fig, ax = plt.subplots(1, 2, figsize=(11, 4))
        for label in labels:
            series = sorted((self.axis_value(p, axis), p) for p in points if p["point"]["label"] == label)
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
        self.save(fig, f"throughput_vs_{axis}_{experiment}.png", f"throughput vs {axis}")
        if axis == "depth":
            self.memory_plot(experiment, points, labels)
            self.depth_findings(experiment, points, labels)
        if axis == "threads":
            self.thread_plot(experiment, points, labels)
        if axis == "width":
            self.width_findings(experiment, points, labels)

    def memory_plot(self, experiment, points, labels):
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
        self.save(fig, f"memory_vs_depth_{experiment}.png", "memory by category vs depth")

    def depth_findings(self, experiment, points, labels):
        slopes = {}
        for label in labels:
            series = sorted((len(p["point"]["hidden"]), p) for p in points if p["point"]["label"] == label)
            xs = [x for x, _ in series]
            live = slope(xs, [p["memory"]["peak_live_activations"] for _, p in series])
            total = slope(xs, [p["memory"]["arena_total"] for _, p in series])
            slopes[label] = (live, total)
            rates = [p["train"]["samples_per_s_median"] for _, p in series]
            if len(series) >= 2:
                self.findings.append(
                    f"{label}: from depth {xs[0]} to {xs[-1]} ({experiment}, width {series[0][1]['point']['hidden'][0]}), train "
                    f"throughput fell from {fmt_num(rates[0])} to {fmt_num(rates[-1])} samples/s ({rates[0] / rates[-1]:.1f}x); "
                    f"peak live activation memory grows by {fmt_num(live / 1024)} KiB per layer and the whole arena by "
                    f"{fmt_num(total / MiB)} MiB per layer.")
        if "ff" in slopes and "bp" in slopes and slopes["bp"][0]:
            self.findings.append(
                f"Activation-memory slope: FF {fmt_num(slopes['ff'][0])} bytes per layer against BP's {fmt_num(slopes['bp'][0])} "
                f"bytes per layer ({experiment}).")
        deepest = max(len(p["point"]["hidden"]) for p in points)
        at = {p["point"]["label"]: p for p in points if len(p["point"]["hidden"]) == deepest}
        if "ff" in at and "bp" in at:
            ff, bp = at["ff"], at["bp"]
            self.findings.append(
                f"At depth {deepest} FF trains at {fmt_num(ff['train']['samples_per_s_median'])} samples/s against BP's "
                f"{fmt_num(bp['train']['samples_per_s_median'])} ({bp['train']['samples_per_s_median'] / ff['train']['samples_per_s_median']:.2f}x slower), "
                f"doing {ff['flops_per_sample']['train'] / bp['flops_per_sample']['train']:.2f}x BP's matmul FLOPs per sample "
                f"at {100 * ff['train']['roofline_fraction']:.0f}% of the GEMM roofline (BP {100 * bp['train']['roofline_fraction']:.0f}%).")

    def width_findings(self, experiment, points, labels):
        for label in labels:
            series = sorted((p["point"]["hidden"][0], p) for p in points if p["point"]["label"] == label)
            fractions = ", ".join(f"{w}: {100 * p['train']['roofline_fraction']:.0f}%" for w, p in series)
            self.findings.append(f"{label} roofline fraction by width ({experiment}): {fractions}.")

    def thread_plot(self, experiment, points, labels):
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
            self.findings.append(
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
        self.save(fig, f"thread_scaling_{experiment}.png", "thread scaling")

    def inference_plot(self, experiment, points):
        if getattr(self, "_inference_done", False):
            return
        candidates = [p for p in points if len(p.get("inference", {})) > 1]
        if not candidates:
            return
        self._inference_done = True
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
        self.save(fig, f"inference_cost_{experiment}.png", "inference cost per prediction mode")
        for label, p in sorted(chosen.items()):
            inf = p["inference"]
            if "goodness" in inf and "softmax" in inf:
                ratio = inf["softmax"]["samples_per_s_median"] / inf["goodness"]["samples_per_s_median"]
                flops = p["flops_per_sample"]["inference"]
                self.findings.append(
                    f"{label} goodness prediction costs {ratio:.1f}x one-pass softmax prediction in time "
                    f"({fmt_num(inf['goodness']['samples_per_s_median'])} against {fmt_num(inf['softmax']['samples_per_s_median'])} "
                    f"samples/s, {p['model']}) and {flops['goodness'] / flops['softmax']:.1f}x in matmul FLOPs "
                    f"(a naive pass per label would be about {p['point'].get('classes', 10)}x).")

    def roofline_plot(self):
        points = [p for p in self.ok if p["point"]["measure"] == "throughput"]
        if not points:
            return
        per_label = defaultdict(list)
        for p in points:
            per_label[p["point"]["label"]].append(100 * p["train"]["roofline_fraction"])
        fig, ax = plt.subplots(figsize=(7, 4))
        labels = sorted(per_label)
        ax.boxplot([per_label[l] for l in labels], labels=labels)
        ax.set_ylabel("% of GEMM roofline (train)")
        ax.set_title("roofline fraction per algorithm (all throughput points)")
        ax.grid(alpha=0.3)
        self.lines += ["## Roofline fraction per algorithm", ""]
        self.save(fig, "roofline_fraction.png", "roofline fraction per algorithm")
        self.table(["algorithm", "points", "median % of roofline", "min", "max"],
                   [[l, len(per_label[l]), f"{med(per_label[l]):.0f}%", f"{min(per_label[l]):.0f}%", f"{max(per_label[l]):.0f}%"]
                    for l in labels])

    # ---- training throughput through training (issue 17) -----------------------------------------
    def drift_section(self):
        """Per-epoch samples/s of every convergence run, relative to its second epoch (the first carries
        warm-up: page faults, oneDNN's JIT, cold caches), the throughput points timed again after
        training, and flush against keep where the run has both."""
        convergence = [p for p in self.ok + self.peers if p["point"]["measure"] == "convergence"
                       and len([e for e in p.get("epochs", []) if e.get("samples_per_second")]) >= 3]
        after = [p for p in self.ok if p.get("train_after_training")]
        if not convergence and not after:
            return
        self.lines += ["## Throughput drift through training", "",
                       "Training samples/s of each epoch relative to epoch 2 (epoch 1 carries warm-up), median over "
                       "seeds. Subnormal floats make some x86 cores slow down once weights and optimizer moments "
                       "decay toward zero; ffbench flushes them (FTZ/DAZ) unless a point says `denormals: keep`.", ""]
        series = defaultdict(list)  # (experiment, label, engine, denormals) -> per-seed relative rates
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
                self.findings.append(f"Throughput drift through training, {label} ({denormals} denormals): epochs 2-{length} "
                                     f"ran at {100 * min(late):.0f}-{100 * max(late):.0f}% of epoch 2's samples/s"
                                     + (" (flat)." if drift >= 0.9 else "."))
        ax.axhline(90, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel("samples/s, % of epoch 2")
        ax.set_title("training throughput through training")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
        self.table(["experiment", "algorithm", "denormals", "seeds", "epoch 1", "epochs 2..N", "verdict"], rows)
        self.save(fig, "throughput_drift.png", "training throughput per epoch relative to epoch 2")
        flush_keep = defaultdict(dict)
        for p in convergence:
            if p["point"].get("engine", "ffbench") != "ffbench":
                continue
            setting = (p.get("denormals") or {}).get("setting")
            per_epoch = p["epochs"][-1]["train_seconds"] / p["epochs"][-1]["epoch"]
            flush_keep[(p["point"]["algorithm"], p["model"], p["point"]["batch"], p["point"]["seed"],
                        json.dumps({k: v for k, v in p["point"]["options"].items()}, sort_keys=True))][setting] = (per_epoch, p)
        pairs = [(k, v) for k, v in flush_keep.items() if "flush" in v and "keep" in v]
        if pairs:
            self.lines += ["Flushing subnormals (FTZ/DAZ) against keeping them, same configuration and seed:", ""]
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
                self.findings.append(f"Denormals, {algorithm} {model}: {flush:.2f} s/epoch with FTZ/DAZ against {keep:.2f} "
                                     f"with IEEE subnormals ({keep / flush:.2f}x) on {self.manifest.get('cpu_model')}.")
            self.table(["algorithm", "model", "B", "seed", "s/epoch flush", "s/epoch keep", "keep / flush",
                        "final test accuracy flush vs keep", "subnormal values at the end (keep)"], rows)
        if after:
            self.lines += ["Throughput points timed again after training on the dataset (real batches):", ""]
            rows = []
            for p in sorted(after, key=lambda q: q["id"]):
                a = p["train_after_training"]
                census = a.get("census", {}).get("by_category", {})
                subnormal = ", ".join(f"{c} {v['subnormal']}" for c, v in census.items() if v.get("subnormal"))
                rows.append([p["point"]["label"], p["model"], p["point"]["batch"],
                             (p.get("denormals") or {}).get("setting", "?"), a["epochs"],
                             fmt_num(p["train"]["samples_per_s_median"]), fmt_num(a["samples_per_s_median"]),
                             f"{a['ratio_to_init']:.2f}x", subnormal or "none"])
            self.table(["algorithm", "model", "B", "denormals", "epochs trained first", "samples/s at init",
                        "samples/s after", "after / init", "subnormal values after"], rows)
