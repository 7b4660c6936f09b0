"""The report's "Over a network" section (scripts/report.py calls it): the distributed points that ran
over an emulated link (suite field `links`; scripts/cluster/emulated_link.sh), per link and mode the
measured speed-up over one process beside the scaling model's, the model calibrated on that link's own
ping-pong and allreduce (recorded in each point's `link`), and where FF's pipeline overtakes BP's data
parallelism.

The model per step of a global batch B on 2 ranks (scripts/scaling_model.py has the same parts):
  pipeline  the one-process step C split over the layers by their multiply-adds into 2 blocks; the
            slower block plus one boundary message of 2 B x H floats at the link's alpha + bytes / beta;
  data      the compute of a half batch, C(B/2) on the line through the one-process steps at B and
            B/2 (the suite's `-half` experiment), plus per weight and bias buffer one allreduce at
            the cost the link's ping-pong measured for MPI_Allreduce over it (alpha + bytes / rate).
"""
import statistics

import scaling_model

LINK_ORDER = {"none": 0, "unshaped": 1}


def link_key(link):
    """Fastest first: shared memory, unshaped, then rates from high to low."""
    if link in LINK_ORDER:
        return (LINK_ORDER[link], 0)
    digits = "".join(c for c in link if c.isdigit()) or "0"
    scale = 1000 if link.endswith("gbit") else 1
    return (2, -int(digits) * scale)


def last_rate(point):
    epochs = point.get("epochs") or []
    return epochs[-1]["samples_per_second"] if epochs else None


def median_rate(points):
    rates = [r for r in (last_rate(p) for p in points) if r]
    return statistics.median(rates) if rates else None


def widths_of(point):
    return [784] + list(point["point"]["hidden"])


def model_speedup(mode, point, single, half, link):
    """The model's speed-up of `mode` over one process on this link; None where a part is missing."""
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
        step = scaling_model.pipeline_step(widths, batch, compute, 2, alpha, beta)
        return compute / step if step else None
    half_rate = median_rate(half)
    allreduce = link.get("allreduce") or {}
    if not half_rate or not allreduce.get("gbytes_per_s"):
        return None
    a, c = scaling_model.fit_line(compute, (batch / 2) / half_rate, batch)
    step = a + c * batch / 2
    sizes = widths + ([10] if point["point"]["algorithm"] == "bp" else [])
    for i in range(len(sizes) - 1):
        for nbytes in (sizes[i] * sizes[i + 1] * 4, sizes[i + 1] * 4):
            step += allreduce["alpha_us"] * 1e-6 + nbytes / (allreduce["gbytes_per_s"] * 1e9)
    return compute / step


def section(report):
    linked = [p for p in report.ok if p["point"].get("link")]
    if not linked:
        return
    lines = report.lines
    lines += ["## Over a network: FF's pipeline against BP's data parallelism over emulated links", "",
              "Two ranks of one thread each in two network namespaces joined by a veth pair shaped to the link's rate "
              "(tc tbf; no added delay: this host cannot emulate one), against the same points over shared memory and in "
              "one process. Speed-up: the distributed point's samples/s in its last epoch over the one-process point's "
              "(median over seeds, range in brackets). Model: the scaling model on that link's own ping-pong and "
              "allreduce (scripts/report_network.py says how); error = model / measured - 1. On 2 cores the kernel's "
              "network work shares the cores with the ranks, as it would not between two machines.", ""]
    experiments = sorted({p["point"]["experiment"] for p in linked})
    errors = []
    for experiment in experiments:
        points = [p for p in report.ok if p["point"]["experiment"] == experiment]
        half = [p for p in report.ok if p["point"]["experiment"] == experiment + "-half"]
        links = sorted({p["point"].get("link") or "none" for p in points if p["point"].get("distributed", "none") != "none"},
                       key=link_key)
        first = points[0]
        lines += [f"### `{experiment}`: {first.get('model')}, global batch {first['point']['batch']}", ""]
        rows, crossing = [], []
        for link in links:
            by_mode, cells = {}, []
            link_info = next((p.get("link") for p in points if (p["point"].get("link") or "none") == link and p.get("link")), None)
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
        report.table(["link", "ping-pong (alpha, beta)", "ff pipeline", "ff data", "bp data"], rows)
        lines += ["", "Where FF's pipeline stands against BP's data parallelism, per link (the spreads over seeds compared): "
                  + "; ".join(crossing) + ".", ""]
    if errors:
        within = [e for e in errors if abs(e[3]) <= scaling_model.TOLERANCE]
        worst = max(errors, key=lambda e: abs(e[3]))
        report.findings.append(
            f"Over emulated links the scaling model is within ±{100 * scaling_model.TOLERANCE:.0f} % of the measured speed-up "
            f"on {len(within)} of {len(errors)} points (worst: {worst[2]} over {worst[1]}, {100 * worst[3]:+.0f} %, `{worst[0]}`).")
