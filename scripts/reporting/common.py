"""What every part of the report uses: matplotlib, number formatting, medians and slopes, markdown
tables, and the sweep axes of an experiment's points. Nothing here reads a file."""
import os
import statistics
import sys
from collections import defaultdict

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("report.py: matplotlib is missing. Run scripts/setup.sh (installs python3-matplotlib) and use /usr/bin/python3.")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
MiB = 1024.0 * 1024.0


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_num(value, digits=3):
    if value is None:
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.{digits - 1}f}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.{max(digits - 2, 0)}f}k"
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def slope(xs, ys):
    """Least-squares slope of ys against xs (None with fewer than two distinct xs)."""
    if len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    den = sum((x - mx) ** 2 for x in xs)
    return num / den


def table(header, rows):
    """A markdown table and the blank line after it."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def points_model(points, label):
    return next((p["model"] for p in points if p["point"]["label"] == label), "?")


def axis_value(p, axis):
    return {"depth": len(p["point"]["hidden"]), "width": p["point"]["hidden"][0], "threads": p["point"]["threads"],
            "batch": p["point"]["batch"]}[axis]


def axes_of(points):
    """The sweep axes that vary within an experiment, in the order depth, width, threads, batch."""
    return [name for name in ("depth", "width", "threads", "batch") if len({axis_value(p, name) for p in points}) > 1]


def axis_of(points):
    """The first sweep axis that varies within an experiment (None: none does)."""
    axes = axes_of(points)
    return axes[0] if axes else None


def split_by(experiment, points, axes):
    """(name, points) per combination of the given axes' values: an experiment swept over two axes
    becomes one single-axis series per value of the other (`schedule-t8`: its 8-thread points)."""
    if not axes:
        return [(experiment, points)]
    tag = {"depth": "d", "width": "w", "threads": "t", "batch": "b"}
    groups = defaultdict(list)
    for p in points:
        groups[tuple(axis_value(p, a) for a in axes)].append(p)
    return [(experiment + "".join(f"-{tag[a]}{v}" for a, v in zip(axes, key)), group)
            for key, group in sorted(groups.items())]


def concurrent_gemms(p, profile):
    """Whether a profile's GEMMs ran on several threads at once (then its share and rate do not
    compare with the all-thread ceiling). Results from before the flag: the pipelined schedule on
    more than one thread."""
    if "concurrent_callers" in profile:
        return profile["concurrent_callers"]
    return p["point"].get("options", {}).get("schedule") == "pipelined" and p["point"]["threads"] > 1


def curve_split(points):
    """'validation' when the points' per-epoch evaluations are on a validation split, else 'test'."""
    return "validation" if any(p["point"].get("validation", 0) > 0 for p in points) else "test"


def selection_text(points):
    """Which split the per-epoch curves and the choices made from them use, in one sentence."""
    validation = sorted({p.get("validation_samples") or p["point"].get("validation", 0) for p in points})
    if any(v > 0 for v in validation):
        return (f"Curves, best epochs and time to target use the **validation split** ({', '.join(str(v) for v in validation)} "
                "samples carved from the end of the training split); the **test split was evaluated once**, for the "
                "final model (selection: validation).")
    return ("No validation split: the **test split was evaluated after every epoch**, and the curves and time to target "
            "are on it (selection: none).")
