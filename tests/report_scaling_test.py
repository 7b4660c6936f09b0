#!/usr/bin/python3
"""The report on a machine of many cores: a point's GEMM ceiling raised to the fastest paired round
(scripts/reporting/run.py fastest_ceiling), an experiment swept over two axes split into single-axis
series, the pipelined-over-simultaneous table, and the machine's own thread scaling beside the
thread-efficiency goal."""
import copy
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from reporting.common import axes_of, axis_of, split_by  # noqa: E402
from reporting.distributed import pipeline_against_data  # noqa: E402
from reporting.run import Run, fastest_ceiling  # noqa: E402
from reporting.schedule import schedule_lines, stage_balance  # noqa: E402
from reporting.targets import machine_scaling  # noqa: E402
from reporting.targets_text import paired_text  # noqa: E402


def throughput(label="ff", depth=2, threads=1, rate=1000.0, roof=100.0, rounds=(90.0, 95.0), fraction=0.8, fma=None):
    return {"status": "ok", "model": "[784," + ",".join(["1000"] * depth) + "]->10",
            "point": {"experiment": "schedule", "label": label, "measure": "throughput", "options": {},
                      "hidden": [1000] * depth, "threads": threads, "batch": 256},
            "roofline": {"gflops": roof}, "peak_fma": {"gflops": fma} if fma else None,
            "step_profile": {"gemm_fraction_of_ceiling_in_step": 0.9},
            "train": {"samples_per_s_median": rate, "roofline_fraction": fraction,
                      "paired": {"ceiling_gflops": list(rounds)}},
            "inference": {"softmax": {"roofline_gflops": 50.0, "roofline_fraction": 1.08,
                                      "paired": {"ceiling_gflops": [40.0, 60.0, 54.0]},
                                      "profile": {"gemm_fraction_of_ceiling_in_step": 1.2}}}}


def table_rows(lines):
    """The cells of every markdown table row in a section's lines, the header first (separators left out)."""
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if line.startswith("| ")]


def main():
    with tempfile.TemporaryDirectory() as scratch:
        check(scratch)
    print("ok")


def check(scratch):
    # Rounds all slower than the first ceiling: nothing changes.
    p = throughput()
    before = copy.deepcopy(p["train"])
    fastest_ceiling(p)
    assert p["train"] == before and p["roofline"] == {"gflops": 100.0}, p
    # Inference: a round at 60 beats the first 50: the ceiling becomes 60, the fraction 1.08 * 50 / 60,
    # the profile's GEMM fraction likewise; the first figure is kept.
    mode = p["inference"]["softmax"]
    assert mode["roofline_gflops"] == 60.0 and mode["before_windows_gflops"] == 50.0, mode
    assert abs(mode["roofline_fraction"] - 0.9) < 1e-12, mode
    assert abs(mode["profile"]["gemm_fraction_of_ceiling_in_step"] - 1.0) < 1e-12, mode
    # Training: a round at 125 over a first ceiling of 100.
    p = throughput(rounds=(125.0, 80.0), fraction=1.0)
    fastest_ceiling(p)
    assert p["roofline"] == {"gflops": 125.0, "before_windows_gflops": 100.0}, p["roofline"]
    assert abs(p["train"]["roofline_fraction"] - 0.8) < 1e-12 and abs(p["step_profile"]["gemm_fraction_of_ceiling_in_step"] - 0.72) < 1e-12
    fastest_ceiling(p)  # applying it twice changes nothing more
    assert p["roofline"]["gflops"] == 125.0 and abs(p["train"]["roofline_fraction"] - 0.8) < 1e-12
    # Convergence points and failed points are left alone.
    q = throughput(rounds=(500.0,))
    q["point"]["measure"] = "convergence"
    fastest_ceiling(q)
    assert q["roofline"]["gflops"] == 100.0

    # Two axes: one series per thread count, named like the point ids.
    points = [throughput(label, d, t, rate=1000.0 * t / d * (1.5 if label == "ff-pipelined" and d >= t else 1.0))
              for label in ("ff", "ff-pipelined") for d in (4, 16) for t in (4, 16)]
    assert axes_of(points) == ["depth", "threads"]
    assert axis_of(points) == "depth"
    split = split_by("schedule", points, ["threads"])
    assert [name for name, _ in split] == ["schedule-t4", "schedule-t16"], split
    assert all(len(group) == 4 and {q["point"]["threads"] for q in group} == {int(name.split("-t")[1])} for name, group in split)
    assert split_by("schedule", points, []) == [("schedule", points)]

    # The pipelined table: a row per width, depth and thread count, the ratio, depth < threads marked;
    # without ff at 1 thread in the run, no stage model.
    run = Run({}, points, scratch)
    header, *rows = table_rows(schedule_lines(run, "schedule", points))
    assert header == ["width", "depth", "threads", "pipelined / simultaneous", "stage balance", "ff thread efficiency",
                      "stage model"], header
    assert [row[:4] for row in rows] == [["1000", "4", "4", "1.50x"], ["1000", "4", "16", "1.00x (depth < threads)"],
                                         ["1000", "16", "4", "1.50x"], ["1000", "16", "16", "1.50x"]], rows
    assert rows[0][4:] == ["4 threads, 95%", "-", "n/a (no 1-thread ff at this shape in the run)"], rows[0]
    assert "from 1.00x (width 1000, depth 4, 16 threads) to 1.50x" in run.findings[-1], run.findings
    # With ff at 1 thread (300 samples/s at depth 4): at 4 threads ff's efficiency is 1000 / (4 x 300),
    # the stage model 4 x 0.946 (784 x 1000 + 3 x 1000 x 1000 over 4 stages of one layer) over 4 x that.
    single = throughput("ff", 4, 1, rate=300.0)
    run = Run({}, points + [single], scratch)
    lines = schedule_lines(run, "schedule", points)
    _, *rows = table_rows(lines)
    assert lines[-1] == "![pipelined over simultaneous, measured and modelled](plots/schedule_model_schedule.png)\n", lines[-1]
    efficiency = 1000.0 / (4 * 300.0)
    assert rows[0][5:] == [f"{100 * efficiency:.0f}%", f"{4 * 0.946 / (4 * efficiency):.2f}x"], rows[0]
    assert rows[1][6] == f"{4 * 0.946 / (16 * (4000.0 / (16 * 300.0))):.2f}x", rows[1]
    assert rows[2][6].startswith("n/a"), rows[2]
    assert "The stage model of the pipelined schedule (schedule) is within" in run.findings[-1], run.findings
    # The share-out mirrors ForwardForward's setup: largest layer first, to the least-loaded thread.
    assert stage_balance([784, 500, 500, 500, 500], 2) == (2, 1142000 / 1284000)
    assert stage_balance([784, 256, 256], 2) == (2, (784 * 256 + 256 * 256) / (2 * 784 * 256))
    assert stage_balance([784, 1000], 4) == (1, 1.0) and stage_balance([784], 2) is None
    run = Run({}, [], scratch)
    assert schedule_lines(run, "schedule", [q for q in points if q["point"]["label"] == "ff"]) == [] and not run.findings, \
        "no pipelined points: no table"

    # The machine's own efficiency 1 -> 16 threads beside the goal: peak FMA 100 -> 800 (50 %), the
    # GEMM ceiling 100 -> 1200 (75 %).
    series = [throughput("bp", 2, 1, roof=100.0, fma=100.0), throughput("bp", 2, 16, roof=1200.0, fma=800.0)]
    text = machine_scaling(series, 16)
    assert text == ("; the machine's own efficiency 1 -> 16 threads, same points: its peak FMA rate 100 -> 800 GFLOP/s: 50%, "
                    "the step's GEMM ceiling 100 -> 1200: 75%"), text
    assert machine_scaling(series[:1], 16) == ""
    # FF's pipeline against BP data-parallel per rank count, the model's grid beside it where it has the shape.
    def run(label, mode, ranks, rate):
        return {"point": {"label": label, "distributed": mode, "ranks": ranks, "threads": 1, "hidden": [1000] * 8},
                "epochs": [{"samples_per_second": rate / 2}, {"samples_per_second": rate}]}
    groups = {("ff-pipeline", "pipeline", 2): [run("ff-pipeline", "pipeline", 2, 950.0)],
              ("bp-data", "data", 2): [run("bp-data", "data", 2, 1000.0)],
              ("ff-pipeline", "pipeline", 8): [run("ff-pipeline", "pipeline", 8, 3400.0)],
              ("bp-data", "data", 8): [run("bp-data", "data", 8, 2000.0)],
              ("ff-data", "data", 4): [run("ff-data", "data", 4, 1.0)]}
    model = {"grid_100gbe": [{"depth": 8, "width": 1000, "ranks": 8, "ff_over_bp": 2.13}]}
    run = Run({}, [], scratch)
    pipeline_against_data(run, "distributed", groups, groups[("bp-data", "data", 2)][0], model, 4)
    assert run.findings == ["FF's layer pipeline over BP data-parallel in samples/s (`distributed`, 8 x 1000): 2 ranks 0.95x, "
                               "8 ranks 1.70x (model 2.13x) (oversubscribed); above 1 the pipeline trains more samples per "
                               "second (the model: its 100 GbE grid)."], run.findings
    # Beside a target: the host's drift when the rounds' median fell below 93 % of the ceiling.
    measured = {"paired": {"roofline_fraction": 0.96, "fractions": [0.95, 0.97], "ceiling_gflops": [28.6, 31.5, 29.2]}}
    assert paired_text(measured, 32.9).endswith("; the rounds ran these GEMMs at 87-96% of the ceiling: the host was slower "
                                                 "during the windows than when the ceiling was timed)"), paired_text(measured, 32.9)
    assert "host was slower" not in paired_text(measured, 30.0) and "host" not in paired_text(measured)


if __name__ == "__main__":
    main()
