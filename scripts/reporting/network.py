"""The report's "Over a network": the distributed points that ran
over an emulated link (suite field `links`; scripts/cluster/emulated_link.sh), per link and mode the
measured speed-up over one process beside the scaling model's, the model calibrated on that link's own
ping-pong and allreduce (recorded in each point's `link`), and where FF's pipeline overtakes BP's data
parallelism.

The model per step of a global batch B on 2 ranks (scripts/distributed/scaling_model.py has the same parts):
  pipeline  the one-process step C split over the layers by their multiply-adds into 2 blocks; the
            slower block plus one boundary message of 2 B x H floats at the link's alpha + bytes / beta;
  data      the compute of a half batch, C(B/2) on the line through the one-process steps at B and
            B/2 (the suite's `-half` experiment), plus per weight and bias buffer one allreduce at
            the cost the link's ping-pong measured for MPI_Allreduce over it (alpha + bytes / rate).
"""
import statistics

from distributed import scaling_model
from reporting.common import plt, table
from reporting.distributed import last_rate

LINK_ORDER = {"none": 0, "unshaped": 1}


def link_key(link):
    """Fastest first: shared memory, unshaped, then rates from high to low."""
    if link in LINK_ORDER:
        return (LINK_ORDER[link], 0)
    digits = "".join(c for c in link if c.isdigit()) or "0"
    scale = 1000 if link.endswith("gbit") else 1
    return (2, -int(digits) * scale)


def median_rate(points):
    rates = [r for r in (last_rate(p) for p in points) if r]
    return statistics.median(rates) if rates else None


def widths_of(point):
    return [784] + list(point["point"]["hidden"])


def model_speedup(mode, point, single, half, link, ranks=2):
    """The model's speed-up of `mode` over one process on this link at `ranks` ranks; None where a part
    is missing (or, for the pipeline, there are fewer layers than ranks). Past 2 ranks the allreduce is
    a ring: 2 (N-1)/N x bytes / beta + 2 (N-1) alpha, plus the local reduction's cost per byte (N-1)/N x
    gamma, gamma calibrated so that N = 2 gives the allreduce's cost measured over the link."""
    batch = point["point"]["batch"]
    rate = median_rate(single)
    if not rate or not link or link.get("error"):
        return None
    alpha, beta = link["alpha_us"] * 1e-6, link["beta_gbytes_per_s"] * 1e9
    if not alpha or not beta:
        return None
    compute = batch / rate
    widths = widths_of(point)
    if mode == "pipeline":
        step = scaling_model.pipeline_step(widths, batch, compute, ranks, alpha, beta)
        return compute / step if step else None
    half_rate = median_rate(half)
    allreduce = link.get("allreduce") or {}
    if not half_rate or not allreduce.get("gbytes_per_s"):
        return None
    a, c = scaling_model.fit_line(compute, (batch / 2) / half_rate, batch)
    step = a + c * batch / ranks
    ar_alpha, ar_per_byte = allreduce["alpha_us"] * 1e-6, 1.0 / (allreduce["gbytes_per_s"] * 1e9)
    gamma = max(0.0, 2.0 * (ar_per_byte - 1.0 / beta))
    sizes = widths + ([10] if point["point"]["algorithm"] == "bp" else [])
    for i in range(len(sizes) - 1):
        for nbytes in (sizes[i] * sizes[i + 1] * 4, sizes[i + 1] * 4):
            if ranks == 2:
                step += ar_alpha + nbytes * ar_per_byte
            else:
                share = (ranks - 1) / ranks
                step += 2 * (ranks - 1) * alpha + 2 * share * nbytes / beta + share * nbytes * gamma
    return compute / step


RANKS = (2, 4, 8, 16)


def cluster_plot(run, experiment, points, half, links):
    """The model's speed-up at 2-16 ranks per mode, drawn from each link's own measurements (not a
    nominal line rate), with the measured 2-rank points; returns ({(label, link): {ranks: speed-up}},
    the plot's line)."""
    predicted = {}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    for ax, (label, mode) in zip(axes, (("ff-pipeline", "pipeline"), ("ff-data", "data"), ("bp-data", "data"))):
        single = [p for p in points if p["point"]["label"] == label and p["point"].get("distributed", "none") == "none"]
        halves = [p for p in half if p["point"]["label"] == label]
        for link, info in links.items():
            mine = [p for p in points if p["point"]["label"] == label and p["point"].get("distributed") == mode
                    and (p["point"].get("link") or "none") == link]
            if not mine or not info:
                continue
            curve = {n: model_speedup(mode, mine[0], single, halves, info, n) for n in RANKS}
            curve = {n: v for n, v in curve.items() if v}
            predicted[(label, link)] = curve
            line, = ax.plot(list(curve), list(curve.values()), marker="o", label=f"{link} (model)")
            base = median_rate(single)
            measured = [last_rate(p) / base for p in mine if last_rate(p)]
            if measured:
                ax.plot([2], [statistics.median(measured)], marker="x", markersize=10, color=line.get_color(), linestyle="none")
        ax.plot(list(RANKS), list(RANKS), color="gray", linewidth=0.8, linestyle="--", label="linear")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("ranks")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("speed-up over one process")
    axes[-1].legend(fontsize=7)
    plot = run.save(fig, f"network_model_{experiment}.png",
                    f"`{experiment}`: the scaling model at 2-16 ranks on each measured link (lines), the measured 2-rank points (x)")
    return predicted, plot


def network_section(run):
    linked = [p for p in run.ok if p["point"].get("link")]
    if not linked:
        return []
    lines = ["## Over a network: FF's pipeline against BP's data parallelism over emulated links", "",
             "Two ranks of one thread each in two network namespaces joined by a veth pair shaped to the link's rate "
             "(tc tbf; no added delay: this host cannot emulate one), against the same points over shared memory and in "
             "one process. Speed-up: the distributed point's samples/s in its last epoch over the one-process point's "
             "(median over seeds, range in brackets). Model: the scaling model on that link's own ping-pong and "
             "allreduce (scripts/reporting/network.py says how); error = model / measured - 1. On 2 cores the kernel's "
             "network work shares the cores with the ranks, as it would not between two machines.", ""]
    errors = []  # (experiment, link, label, model / measured - 1) of every point the model predicts
    for experiment in sorted({p["point"]["experiment"] for p in linked}):
        lines += experiment_lines(run, experiment, errors)
    if errors:
        within = [e for e in errors if abs(e[3]) <= scaling_model.TOLERANCE]
        worst = max(errors, key=lambda e: abs(e[3]))
        run.findings.append(
            f"Over emulated links the scaling model is within ±{100 * scaling_model.TOLERANCE:.0f} % of the measured speed-up "
            f"on {len(within)} of {len(errors)} points (worst: {worst[2]} over {worst[1]}, {100 * worst[3]:+.0f} %, `{worst[0]}`).")
    return lines


def link_measurements(points, link):
    """The ping-pong and allreduce a point over `link` recorded (its `link` entry), or None."""
    return next((p.get("link") for p in points if (p["point"].get("link") or "none") == link and p.get("link")), None)


def experiment_lines(run, experiment, errors):
    """Per link and mode the measured speed-up beside the model's, where FF's pipeline stands, and the
    model's curves to 16 ranks with the findings they give."""
    points = [p for p in run.ok if p["point"]["experiment"] == experiment]
    half = [p for p in run.ok if p["point"]["experiment"] == experiment + "-half"]
    links = sorted({p["point"].get("link") or "none" for p in points if p["point"].get("distributed", "none") != "none"},
                   key=link_key)
    first = points[0]
    rows, crossing = [], []
    for link in links:
        link_info = link_measurements(points, link)
        cells, by_mode = speedup_cells(experiment, points, half, link, link_info, errors)
        pipe, bp = by_mode.get("ff-pipeline"), by_mode.get("bp-data")
        if pipe and bp:
            if pipe[1] > bp[2]:
                crossing.append(f"{link}: FF's pipeline ahead")
            elif pipe[2] < bp[1]:
                crossing.append(f"{link}: BP's data parallelism ahead")
            else:
                crossing.append(f"{link}: within the spread")
        measured_link = (f"{link_info['alpha_us']:.0f} us, {link_info['beta_gbytes_per_s']:.2f} GB/s"
                         if link_info and not link_info.get("error") else ("shared memory" if link == "none" else "not measured"))
        rows.append([link, measured_link] + cells)
    lines = [f"### `{experiment}`: {first.get('model')}, global batch {first['point']['batch']}", ""]
    lines += table(["link", "ping-pong (alpha, beta)", "ff pipeline", "ff data", "bp data"], rows)
    lines += ["", "Where FF's pipeline stands against BP's data parallelism, per link (the spreads over seeds compared): "
              + "; ".join(crossing) + ".", ""]
    measured_links = {link: link_measurements(points, link) for link in links if link != "none"}
    predicted, plot = cluster_plot(run, experiment, points, half, measured_links)
    lines.append(plot)
    for link in measured_links:
        pipe, bp = predicted.get(("ff-pipeline", link), {}), predicted.get(("bp-data", link), {})
        common = sorted(set(pipe) & set(bp))
        if common:
            run.findings.append(
                f"`{experiment}` over the measured {link} link, the model predicts FF's pipeline "
                + ", ".join(f"{pipe[n]:.2f}x" for n in common) + " against BP's data parallelism "
                + ", ".join(f"{bp[n]:.2f}x" for n in common) + f" at {', '.join(str(n) for n in common)} ranks.")
    return lines


def speedup_cells(experiment, points, half, link, link_info, errors):
    """The table's cell per mode over `link` (measured speed-up, range, the model's and its error), and
    (median, low, high) of each mode measured; the model's errors go to `errors`."""
    by_mode, cells = {}, []
    for label, mode in (("ff-pipeline", "pipeline"), ("ff-data", "data"), ("bp-data", "data")):
        single = [p for p in points if p["point"]["label"] == label and p["point"].get("distributed", "none") == "none"]
        mine = [p for p in points if p["point"]["label"] == label and p["point"].get("distributed", "none") == mode
                and (p["point"].get("link") or "none") == link]
        base = median_rate(single)
        if not mine or not base:
            cells.append("-")
            continue
        ups = [last_rate(p) / base for p in mine if last_rate(p)]
        measured = statistics.median(ups)
        by_mode[label] = (measured, min(ups), max(ups))
        halves = [p for p in half if p["point"]["label"] == label]
        model = model_speedup(mode, mine[0], single, halves, link_info)
        text = f"{measured:.2f}x ({min(ups):.2f}-{max(ups):.2f})"
        if model:
            error = model / measured - 1
            errors.append((experiment, link, label, error))
            text += f"; model {model:.2f}x ({100 * error:+.0f} %)"
        cells.append(text)
    return cells, by_mode
