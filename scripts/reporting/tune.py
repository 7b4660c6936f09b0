"""The report's "Tuning" sections, one per tune experiment (measure "tune": an equal-budget search,
successive halving on the validation split): each algorithm's best configuration, then every trial."""
import json
from collections import defaultdict

from reporting.common import plt, table
from reporting.status import FINISHED


def tune_score(p):
    """The trial's score, as ffbench ranks it: the best mode's validation accuracy at its final epoch."""
    if p.get("status") not in FINISHED or not p.get("epochs"):
        return -1.0
    return max((p["epochs"][-1].get("validation_accuracy") or {"": -1.0}).values())


def tune_section(run):
    groups = defaultdict(list)
    for p in run.points:
        if (p.get("point") or {}).get("measure") == "tune":
            groups[p["point"]["experiment"]].append(p)
    lines = []
    for experiment, points in sorted(groups.items()):
        tune = points[0]["point"]["tune"]
        counts = rung_counts(tune)
        lines += tune_intro(experiment, points, counts)
        lines.append("Each algorithm at its best configuration (chosen by validation accuracy in the last rung reached):\n")
        lines += table(["algorithm", "best configuration", "found as", "prediction", "validation acc", "test acc (final model)",
                        "training time, all trials"], best_rows(points, tune, counts))
        trial_rows, plot = trials(run, experiment, points)
        lines.append("Every trial (configuration, rung, validation accuracy at its final epoch per prediction mode, "
                     "and whether it went on to the next rung):\n")
        lines += table(["algorithm", "trial", "rung", "epochs", "configuration", "validation acc", "status", "promoted"], trial_rows)
        lines.append(plot)
    return lines


def rung_counts(tune):
    """Trials per rung: all of them in the first, then each rung the best 1/eta (rounded up) of the one below."""
    counts, n = [], tune["trials"]
    for _ in tune["budgets"]:
        counts.append(n)
        n = -(-n // tune["eta"])
    return counts


def tune_intro(experiment, points, counts):
    tune = points[0]["point"]["tune"]
    budgets = tune["budgets"]
    spent = sum(c * b for c, b in zip(counts, budgets))
    return [f"## Tuning: `{experiment}`", "",
            f"Equal-budget search, the same for every algorithm: {tune['trials']} configurations drawn from each "
            f"algorithm's search space (seed {tune['seed']}), then successive halving over {tune['rungs']} rung(s) "
            f"with eta {tune['eta']}: rung r trains {', '.join(f'{c} trial(s) for {b} epoch(s)' for c, b in zip(counts, budgets))}, "
            f"each from scratch in its own process, and the best 1/{tune['eta']} of a rung go on. {spent} epochs per "
            "algorithm in all. A trial's score is the validation accuracy of its best prediction mode at its final "
            f"epoch (validation split: {points[0]['point'].get('validation')} samples carved from the end of the "
            "training split); the test split is evaluated once per trial and shown only for the chosen configuration.", ""]


def best_rows(points, tune, counts):
    """Per algorithm label, the best trial of the last rung it reached."""
    rows = []
    for label in sorted({p["point"]["label"] for p in points}):
        mine = [p for p in points if p["point"]["label"] == label and p.get("status") in FINISHED]
        if not mine:
            rows.append([label, "no finished trial", "", "", "", "", ""])
            continue
        top = max(p["point"]["tune"]["rung"] for p in mine)
        best = max((p for p in mine if p["point"]["tune"]["rung"] == top),
                   key=lambda p: (tune_score(p), -p["point"]["tune"]["trial"]))
        validation = best["epochs"][-1].get("validation_accuracy", {})
        mode = max(validation, key=validation.get) if validation else "n/a"
        test = (best.get("final_accuracy") or {}).get(mode)
        rows.append([label, f"`{json.dumps(best['point']['tune']['config'], sort_keys=True)}`", f"trial {best['point']['tune']['trial']}, "
                     f"rung {top} ({best['point']['epochs']} epochs)", mode, f"{100 * tune_score(best):.2f}%",
                     f"{100 * test:.2f}%" if test is not None else "n/a",
                     f"{sum(p['epochs'][-1]['train_seconds'] for p in mine if p.get('epochs')):.0f} s"])
        all_done = len([p for p in points if p["point"]["label"] == label]) == sum(counts)
        if not all_done or top + 1 < tune["rungs"]:
            rows[-1][2] += " (search unfinished)"
    return rows


def trials(run, experiment, points):
    """Every trial's row, and the plot of each trial's validation accuracy over the rungs it reached."""
    trial_rows = []
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label in sorted({p["point"]["label"] for p in points}):
        mine = sorted((p for p in points if p["point"]["label"] == label),
                      key=lambda p: (p["point"]["tune"]["rung"], -tune_score(p)))
        per_trial = defaultdict(list)
        for p in mine:
            t = p["point"]["tune"]
            validation = (p.get("epochs") or [{}])[-1].get("validation_accuracy", {})
            promoted = any(q["point"]["tune"].get("promoted_from") == p["id"] for q in points)
            trial_rows.append([label, t.get("trial", "?"), t["rung"], p["point"]["epochs"],
                               f"`{json.dumps(t.get('config'), sort_keys=True)}`",
                               ", ".join(f"{m} {100 * a:.2f}%" for m, a in sorted(validation.items())) or "n/a",
                               p.get("status"), "yes" if promoted else ""])
            if p.get("status") in FINISHED and t.get("trial") is not None:
                per_trial[t["trial"]].append((p["point"]["epochs"], 100 * tune_score(p)))
        color = None
        for trial, series in sorted(per_trial.items()):
            series.sort()
            line, = ax.plot([x for x, _ in series], [y for _, y in series], marker="o", alpha=0.7, color=color,
                            label=label if color is None else None)
            color = line.get_color()
    ax.set_xlabel("epochs trained (rung budget)")
    ax.set_ylabel("validation accuracy, best mode (%)")
    ax.set_title(f"{experiment}: successive halving, one line per trial")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return trial_rows, run.save(fig, f"tune_{experiment}.png", "validation accuracy of every trial per rung")
