"""Convergence sections of the report: accuracy curves, time to target, the lead time-to-accuracy finding."""
from reporting.common import *  # noqa: F401,F403  (plt, helpers, the published figures)
from reporting import distributed as report_distributed  # experiments with ranks have their own section


class ConvergenceSections:
    def convergence(self):
        groups = self.by_experiment("convergence")
        distributed = report_distributed.experiments_with_ranks(self.ok)  # their own section
        for experiment, points in sorted(groups.items()):
            if experiment in distributed:
                continue
            self.lines += [f"## Convergence: `{experiment}`", ""]
            model = points[0].get("model")
            split = self.curve_split(points)
            validation = f"{points[0].get('validation_samples')} validation / " if split == "validation" else ""
            self.lines.append(f"Model {model}, batch {points[0]['point']['batch']}, "
                              f"{points[0].get('train_samples')} training / {validation}{points[0].get('test_samples')} test "
                              "samples. Training wall time excludes evaluation; median over seeds, band = min..max. "
                              f"{self.selection_text(points)}\n")
            key = f"{split}_accuracy"
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
            self.table(header + ["epochs", "s/epoch"], rows)
            for xaxis, name in ((1, "seconds"), (0, "epochs")):
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
                self.save(fig, f"accuracy_vs_{name}_{experiment}.png", f"{split} accuracy vs {name}")
            self.time_to_target(experiment, points)
            self.diagnostics(experiment, points)
            self.convergence_findings(experiment, points, curves)

    def time_to_target(self, experiment, points):
        targets = sorted({t for p in points for t in p["point"].get("targets", [])})
        if not targets:
            return
        results = defaultdict(lambda: defaultdict(list))
        for p in points:
            for mode, per_target in p.get("time_to_target", {}).items():
                for target, reached in per_target.items():
                    results[(p["point"]["label"], mode)][float(target)].append(reached)
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
        split = self.curve_split(points)
        self.time_to_accuracy_finding(experiment, points, targets, results, split)
        self.lines.append(f"Time to target {split} accuracy (median over seeds; training wall time and epochs):\n")
        self.table(["algorithm", "prediction"] + [f"{100 * t:g}%" for t in targets], rows)
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
        self.save(fig, f"time_to_target_{experiment}.png", "time to target accuracy")

    def time_to_accuracy_finding(self, experiment, points, targets, results, split):
        """MLPerf-style time to accuracy: per (dataset, split), algorithm and target the fastest label and
        prediction mode of any experiment (median over seeds; every seed must reach it). The findings,
        FF against BP, are made in write() (lead_time_to_accuracy) from all experiments together."""
        algorithm_of = {p["point"]["label"]: p["point"]["algorithm"] for p in points}
        dataset = points[0]["point"].get("dataset", "?")
        for (label, mode), per_target in results.items():
            for t in targets:
                reached = per_target.get(t, [])
                key = (dataset, split, algorithm_of.get(label), t)
                if not reached or not all(reached):
                    self.tta.setdefault(key, None)
                    continue
                candidate = (med([r["seconds"] for r in reached]), med([r["epoch"] for r in reached]),
                             f"{experiment}/{label}", mode)
                if self.tta.get(key) is None or candidate[0] < self.tta[key][0]:
                    self.tta[key] = candidate

    def lead_time_to_accuracy(self):
        groups = sorted({(d, s) for d, s, _, _ in self.tta})
        for dataset, split in groups:
            targets = sorted({t for d, s, _, t in self.tta if (d, s) == (dataset, split)})
            algorithms = {a for d, s, a, _ in self.tta if (d, s) == (dataset, split)}
            if not {"bp", "ff"} <= algorithms:
                continue
            parts = []
            for t in targets:
                bp, ff = self.tta.get((dataset, split, "bp", t)), self.tta.get((dataset, split, "ff", t))
                if bp is None:
                    continue
                bp_text = f"bp {bp[0]:.1f} s ({bp[1]:g} epochs, {bp[2]})"
                if ff is None:
                    parts.append(f"{100 * t:g}%: {bp_text}; ff did not reach it in this run")
                else:
                    parts.append(f"{100 * t:g}%: ff {ff[0]:.1f} s ({ff[1]:g} epochs, {ff[2]} {ff[3]}) against {bp_text}: "
                                 f"FF/BP {ff[0] / bp[0]:.1f}x")
            if parts:
                self.lead_findings.append(f"Time to {split} accuracy on {dataset} (median over seeds, training time, each "
                                          "algorithm's fastest configuration in this run): " + "; ".join(parts) + ".")

    def diagnostics(self, experiment, points):
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
        if rows:
            self.lines.append("FF per-layer diagnostics (last epoch's mean goodness of positives and negatives, their "
                              "separation, and each layer's goodness-prediction accuracy on its own):\n")
            self.table(["algorithm", "seed", "layer", "goodness +", "goodness -", "separation", "accuracy alone"], rows)

    def convergence_findings(self, experiment, points, curves):
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

        split = self.curve_split(points)
        for target in (0.97, 0.95):
            bp, ff = time_to("bp", target), time_to("ff", target)
            if bp and ff:
                bp_s = med([s for _, s, _ in bp])
                by_mode = defaultdict(list)
                for mode, s, _ in ff:
                    by_mode[mode].append(s)
                mode, times = min(by_mode.items(), key=lambda kv: med(kv[1]))
                self.findings.append(
                    f"To reach {100 * target:g}% {split} accuracy ({experiment}), FF needed {med(times) / bp_s:.1f}x BP's training "
                    f"wall time: {med(times):.1f} s with {mode} prediction against BP's {bp_s:.1f} s (medians over seeds).")
                break
            if bp and not ff:
                ff_final = [c[-1][2] for (label, _), seeds in curves.items() if label == "ff" for c in seeds if c]
                if ff_final:
                    self.findings.append(
                        f"BP reached {100 * target:g}% {split} accuracy in {med([s for _, s, _ in bp]):.1f} s ({experiment}); FF did "
                        f"not reach it within the run (best final accuracy {100 * max(ff_final):.2f}%).")
                break
        per_epoch = {}
        for label in sorted({p["point"]["label"] for p in points}):
            secs = [p["epochs"][-1]["train_seconds"] / p["epochs"][-1]["epoch"] for p in points
                    if p["point"]["label"] == label and p["epochs"]]
            if secs:
                per_epoch[label] = med(secs)
        if "bp" in per_epoch and "ff" in per_epoch:
            self.findings.append(
                f"One FF epoch took {per_epoch['ff'] / per_epoch['bp']:.2f}x a BP epoch ({per_epoch['ff']:.2f} s against "
                f"{per_epoch['bp']:.2f} s, {experiment}, {points[0].get('model')}).")
