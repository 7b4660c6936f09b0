"""The report's sections on published figures: the published figures beside ours, the PyTorch
reference's published setup in both engines, and each experiment with a `published` figure against
its band (the variant that counts chosen on the validation split)."""
from collections import defaultdict

from reporting.common import MiB, med, table
from reporting.status import Status

# Published figures (reports/PUBLISHED.md lists each with its source), shown beside ours.
PUBLISHED = [
    ("Hinton (2022), FF, 4x2000 ReLU, 60 epochs, goodness prediction", "MNIST test error", "1.36%"),
    ("Hinton (2022), FF, 2x learning rate, 40 epochs", "MNIST test error", "1.46%"),
    ("Hinton (2022), BP baseline on similar nets, ~20 epochs", "MNIST test error", "about 1.4%"),
    ("Hinton's matlab code, 3x1000, 100 epochs, peer norm 0.03", "MNIST test error (goodness / softmax)", "1.44% / 1.47%"),
    ("PyTorch reference (mpezeshki), [784,500,500], full batch, greedy 1000 steps/layer", "MNIST test error", "6.84%"),
    ("Keras example (port of the above)", "MNIST test accuracy", "97.64%"),
    ("loeweX/Forward-Forward, 3x1000, batch 100, 100 epochs, softmax prediction", "MNIST test error", "1.45%"),
]


def published_section(run):
    lines = ["## Published figures beside ours", "",
             "From reports/PUBLISHED.md, which gives each source (setups differ from ours; see the setup column).", ""]
    lines += table(["source and setup", "figure", "published"], [list(r) for r in PUBLISHED])
    ours = []
    for p in run.ok:
        if p["point"]["measure"] == "convergence" and p.get("final_accuracy"):
            for mode, acc in p["final_accuracy"].items():
                ours.append([f"ffbench {p['point']['label']} {p['model']}, batch {p['point']['batch']}, "
                             f"{p['epochs'][-1]['epoch']} epochs, seed {p['point']['seed']}, {p['point']['dataset']}",
                             f"test error ({mode})", f"{100 * (1 - acc):.2f}%"])
    if ours:
        lines.append("Ours, this run:\n")
        lines += table(["setup", "figure", "measured"], ours)
    return lines


def reference_section(run):
    points = [p for p in run.points if p.get("status") == Status.OK and p["point"]["experiment"] == "reference"]
    if not points:
        return []
    published_error = 6.84  # reports/PUBLISHED.md: mpezeshki/pytorch_forward_forward, test error
    lines = ["## The PyTorch reference's published setup, in both engines", "",
             "reports/PUBLISHED.md: mpezeshki's PyTorch reference reports **6.84%** test error with [784,500,500], "
             "one full batch of 50,000, each layer trained 1000 steps before the next, Adam 0.03, threshold 2 on "
             "the mean of squares, prediction summing goodness over all layers. Both engines ran that setup here "
             "(standardized pixels, L2 input normalisation, the image maximum as label value). One difference, by "
             "design: negatives are uniform over the *wrong* labels; the reference permutes labels, so about one "
             "negative in ten carries the true label.", ""]
    rows = []
    for p in sorted(points, key=lambda q: q["point"].get("engine", "ffbench")):
        last = p["epochs"][-1]
        steps = last["epoch"] * (p.get("train_samples", 0) // p["point"]["batch"] or 1)
        for mode, acc in last["test_accuracy"].items():
            error = 100 * (1 - acc)
            rows.append([p["point"].get("engine", "ffbench"), p.get("model"), mode, f"{error:.2f}%",
                         f"{published_error:.2f}%", f"{error - published_error:+.2f}", steps,
                         f"{last['train_seconds']:.0f} s ({last['train_seconds'] / 60:.1f} min)",
                         f"{1000 * last['train_seconds'] / steps:.0f} ms", f"{p['memory']['peak_rss'] / MiB:.0f}"])
    lines += table(["engine", "model", "prediction", "test error", "published", "difference (points)", "steps",
                    "training time", "per step", "peak RSS MiB"], rows)
    by_engine = {p["point"].get("engine", "ffbench"): p for p in points}
    if "ffbench" in by_engine and "torch" in by_engine:
        ours, theirs = by_engine["ffbench"]["epochs"][-1], by_engine["torch"]["epochs"][-1]
        run.findings.append(
            f"The PyTorch reference's setup (full batch 50,000, 1000 steps per layer): ffbench {100 * (1 - ours['test_accuracy']['goodness']):.2f}% "
            f"and PyTorch {100 * (1 - theirs['test_accuracy']['goodness']):.2f}% test error (published 6.84%), in "
            f"{ours['train_seconds'] / 60:.1f} and {theirs['train_seconds'] / 60:.1f} minutes of training "
            f"({theirs['train_seconds'] / ours['train_seconds']:.2f}x).")
    return lines


def reproduction_section(run):
    points = [p for p in run.points if (p.get("point") or {}).get("published") and p["point"]["measure"] == "convergence"
              and p["point"].get("engine", "ffbench") == "ffbench"]
    if not points:
        return []
    groups = defaultdict(list)
    for p in points:
        groups[(p["point"]["experiment"], p["point"]["label"])].append(p)
    rows, met, judged = [], 0, 0
    # Variants of one published figure (same source, figure, band, prediction mode, dataset and
    # net): which one counts is chosen on the validation split, never on the test error.
    figures = defaultdict(list)
    for (experiment, label), runs in sorted(groups.items()):
        finished = [p for p in runs if p.get("status") == Status.OK and p.get("final_accuracy")]
        first = runs[0]["point"]
        setup = (f"{first['dataset']}, {runs[0].get('model') or first['hidden']}, batch {first['batch']}, "
                 f"{first['epochs']} epochs")
        for published in first["published"]:
            modes = [published["mode"]] if published.get("mode") else sorted({m for p in finished for m in p["final_accuracy"]})
            for mode in modes or ["n/a"]:
                errors = [1 - p["final_accuracy"][mode] for p in finished if mode in p["final_accuracy"]]
                if errors:
                    judged += 1
                    status = "met" if med(errors) <= published["band"] else "missed"
                    met += status == "met"
                    ours, spread = f"{100 * med(errors):.2f}%", f"{100 * min(errors):.2f}..{100 * max(errors):.2f}%"
                    validation = [1 - p["final_validation_accuracy"][mode] for p in finished
                                  if mode in (p.get("final_validation_accuracy") or {})]
                    key = (published["source"], published["test_error"], published["band"], mode, first["dataset"],
                           tuple(first["hidden"]))
                    figures[key].append({"experiment": experiment, "label": label, "test": med(errors),
                                         "validation": med(validation) if len(validation) == len(errors) else None,
                                         "seeds": len(errors), "status": status})
                else:
                    status, ours, spread = "not run", "n/a", "n/a"
                rows.append([f"`{experiment}`", label, setup, mode, f"{len(errors)}/{len(runs)}", ours, spread,
                             f"{100 * published['test_error']:.2f}%", f"<= {100 * published['band']:.2f}%", status,
                             published["source"] + (f" ({published['note']})" if published.get("note") else "")])
    lines = ["## Published setups, reproduced", "",
             "Each experiment with a `published` figure (bench/suites/README.md): our test error of the final "
             "model (after the last epoch; the test split is evaluated once per run when the experiment has a "
             "validation split), median over seeds and the min..max spread, beside the published figure and the "
             "band (the highest test error that counts as reproduced). 'met' when the median is inside the band.", ""]
    lines += table(["experiment", "algorithm", "setup", "prediction", "seeds", "ours (median)", "spread", "published",
                    "band", "status", "source"], rows)
    if judged:
        run.findings.append(f"Published setups reproduced: {met} of {judged} figures within their bands "
                            "(median test error over seeds; see the reproduction table).")
    return lines + chosen_on_validation(run, figures)


def chosen_on_validation(run, figures):
    """Per published figure, the variant whose final model has the lowest median validation error."""
    rows, met, judged = [], 0, 0
    for (source, published_error, band, mode, dataset, hidden), variants in sorted(figures.items(), key=lambda kv: str(kv[0])):
        ranked = [v for v in variants if v["validation"] is not None]
        if len(ranked) < len(variants):
            choice, how = None, "not chosen: a variant has no validation split"
        else:
            choice = min(ranked, key=lambda v: (v["validation"], v["experiment"]))
            how = ", ".join(f"`{v['experiment']}` {100 * v['validation']:.2f}%" for v in sorted(ranked, key=lambda v: v["validation"]))
        if choice is not None:
            judged += 1
            met += choice["status"] == "met"
        rows.append([f"{dataset}, {list(hidden)}, {mode}", f"{100 * published_error:.2f}% ({source})", how,
                     f"`{choice['experiment']}`" if choice else "n/a",
                     f"{100 * choice['test']:.2f}% ({choice['seeds']} seeds)" if choice else "n/a",
                     f"<= {100 * band:.2f}%", choice["status"] if choice else "n/a"])
    if not rows or all(len(v) == 1 for v in figures.values()):
        return []  # no figure has variants: the table above already says everything
    lines = ["", "Where a published figure has several variants in this run (configurations tried because one "
             "missed its band), the one that counts is chosen on the **validation split**: the lowest median "
             "validation error of the final model over its seeds; only then is its test error read.", ""]
    lines += table(["figure (dataset, net, prediction)", "published", "variants by median validation error",
                    "chosen", "its test error (median)", "band", "status"], rows)
    run.findings.append(f"Chosen on the validation split among each published figure's variants: {met} of {judged} "
                        "published figures within their bands.")
    return lines
