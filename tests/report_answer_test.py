#!/usr/bin/python3
"""The answer that opens every report (scripts/reporting/answer.py) and the page across machines
(scripts/findings.py), on small fixture runs written here: the lines are there, every number equals
what the result files give, a verdict without evidence is withheld, and a verdict that differs between
two machines is reported as a flip."""
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "..", "scripts")
sys.path.insert(0, SCRIPTS)
from reporting import verdict  # noqa: E402
from reporting.answer import verdicts  # noqa: E402
from reporting.run import load  # noqa: E402

ALGORITHMS = [{"name": "bp", "pipeline": "its layers do not learn locally (a backward pass crosses them)"},
              {"name": "ff", "pipeline": "set the option schedule=pipelined: ..."},
              {"name": "mono_forward", "pipeline": "mono_forward has no pipelined schedule yet; use --distributed data"},
              {"name": "dfa", "pipeline": "its layers do not learn locally (a backward pass crosses them)"}]


def convergence(label, seed, epoch_seconds, accuracies, reach, flops):
    """A convergence point: cumulative training seconds per epoch, test accuracy per epoch; `reach`
    maps a target to the epoch it was reached (None: not reached)."""
    epochs, total = [], 0.0
    for i, (seconds, accuracy) in enumerate(zip(epoch_seconds, accuracies)):
        total += seconds
        epochs.append({"epoch": i + 1, "train_seconds": total, "samples_per_second": 60000 / seconds,
                       "test_accuracy": {"softmax": accuracy}})
    time_to = {str(t): ({"epoch": e, "seconds": epochs[e - 1]["train_seconds"]} if e else None) for t, e in reach.items()}
    return {"id": f"convergence.{label}.s{seed}", "status": "ok", "model": "[784,500,500]->10", "epochs": epochs,
            "final_accuracy": {"softmax": accuracies[-1]}, "time_to_target": {"softmax": time_to},
            "time_to_target_split": "test", "flops_per_sample": {"train": flops},
            "point": {"experiment": "convergence", "label": label, "algorithm": label, "measure": "convergence",
                      "batch": 128, "threads": 2, "epochs": len(epochs), "hidden": [500, 500], "seed": seed,
                      "targets": sorted(float(t) for t in reach), "engine": "ffbench", "options": {}, "dataset": "mnist"}}


def throughput(label, depth, rates, live, experiment="depth"):
    return {"id": f"{experiment}.{label}.d{depth}", "status": "ok", "model": "[784" + ",500" * depth + "]->10",
            "memory": {"peak_live_activations": live, "arena_total": 10 * live, "peak_rss": 100 * live},
            "train": {"samples_per_s": rates, "samples_per_s_median": statistics.median(rates), "roofline_fraction": 0.8, "samples_per_s_min": min(rates), "samples_per_s_max": max(rates),
                      "gflops": 40.0},
            "roofline": {"gflops": 50.0, "plain_gflops": 50.0}, "flops_per_sample": {"train": 1e6, "inference": {}},
            "modes": [],
            "point": {"experiment": experiment, "label": label, "algorithm": label, "measure": "throughput", "batch": 128,
                      "threads": 2, "hidden": [500] * depth, "engine": "ffbench", "options": {}, "seed": 1, "dataset": "mnist"}}


def write_run(folder, cpu, ff_epoch, isa="avx2"):
    """A fixture run: bp and ff over 3 seeds (ff's epoch `ff_epoch` seconds, bp's 2 s), two family
    members over 1 seed, a depth sweep, and a pipeline point with no BP data-parallel counterpart."""
    os.makedirs(os.path.join(folder, "points"))
    points = []
    for seed in (1, 2, 3):
        jitter = 0.01 * seed
        points.append(convergence("bp", seed, [2.0 + jitter] * 3, [0.95, 0.97, 0.975 + jitter / 10],
                                  {0.95: 1, 0.97: 2}, 3.0e6))
        points.append(convergence("ff", seed, [ff_epoch + jitter] * 3, [0.93, 0.951, 0.96 + jitter / 10],
                                  {0.95: 2, 0.97: None}, 6.0e6))
    points.append(convergence("mono_forward", 1, [2.2] * 3, [0.95, 0.96, 0.974], {0.95: 1, 0.97: 3}, 3.1e6))
    points.append(convergence("dfa", 1, [1.8] * 3, [0.94, 0.95, 0.96], {0.95: 2, 0.97: None}, 3.0e6))
    points += [throughput("bp", 1, [1000, 1010, 990], 1000), throughput("bp", 4, [250, 255, 245], 4000),
               throughput("ff", 1, [500, 505, 495], 2000), throughput("ff", 4, [200, 204, 196], 5000)]
    pipeline = convergence("ff", 1, [3.0] * 3, [0.9] * 3, {}, 6.0e6)
    pipeline["id"] = "distributed.ff-pipeline"
    pipeline["point"].update(experiment="distributed", label="ff-pipeline", distributed="pipeline", ranks=2)
    single = convergence("ff", 1, [5.0] * 3, [0.9] * 3, {}, 6.0e6)
    single["id"] = "distributed.ff-pipeline.one"
    single["point"].update(experiment="distributed", label="ff-pipeline")
    points += [pipeline, single]
    for p in points:
        with open(os.path.join(folder, "points", p["id"] + ".json"), "w") as f:
            json.dump(p, f)
    manifest = {"cpu_model": cpu, "hardware_threads": 2, "onednn_isa": isa, "peak_fma": {"gflops": 80.0, "threads": 2, "kernel": "avx2"},
                "suite_name": "quick", "revision": "0" * 40, "created": "2026-12-07T00:00:00Z", "algorithms": ALGORITHMS}
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    return points


def check_one_run(scratch):
    run = os.path.join(scratch, "published", "quick-a")
    points = write_run(run, "Fixture CPU A", ff_epoch=4.0)
    found = {v.key: v for v in verdicts(load(run, os.path.join(scratch, "out")))}
    # FF's cost per epoch: the median of the seeds' per-epoch means over BP's, from the files.
    per_epoch = {label: statistics.median(p["epochs"][-1]["train_seconds"] / 3 for p in points
                                          if p["point"]["label"] == label and p["point"]["experiment"] == "convergence")
                 for label in ("ff", "bp")}
    cost = found["epoch_cost"]
    assert cost.word == verdict.SLOWER, cost
    assert abs(cost.value - per_epoch["ff"] / per_epoch["bp"]) < 1e-12, (cost.value, per_epoch)
    assert f"{per_epoch['ff'] / per_epoch['bp']:.2f}x" in cost.text and "2.00x BP's matmul FLOPs" in cost.text, cost.text
    # Time to 95 %: every seed of both reached it; FF at epoch 2, BP at epoch 1.
    tta = found["time_to_95"]
    ff_95 = [p["time_to_target"]["softmax"]["0.95"]["seconds"] for p in points if p["point"]["label"] == "ff" and p["point"]["experiment"] == "convergence"]
    bp_95 = [p["time_to_target"]["softmax"]["0.95"]["seconds"] for p in points if p["point"]["label"] == "bp" and p["point"]["experiment"] == "convergence"]
    assert tta.word == verdict.SLOWER and abs(tta.value - statistics.median(ff_95) / statistics.median(bp_95)) < 1e-12, tta
    # Time to 97 %: FF never reached it: slower by more than its training time over BP's slowest time to it.
    assert found["time_to_97"].word == verdict.SLOWER and "did not reach it" in found["time_to_97"].text, found["time_to_97"]
    # Depth: FF fell 2.5x (500 -> 200), BP 4x (1000 -> 250): FF scales better; spreads from the repeats.
    depth = found["depth"]
    assert depth.word == verdict.BETTER and abs(depth.value - 4.0 / 2.5) < 1e-12, depth
    assert "2.5x (2.4-2.6)" in depth.text and "4.0x (3.9-4.1)" in depth.text, depth.text
    # Activation growth per layer: (5000 - 2000) / 3 bytes for FF.
    assert "1 KiB per layer for FF" in depth.text, depth.text
    # Ranks: FF's pipeline without a BP data-parallel counterpart: withheld, naming what is missing.
    assert found["ranks"].word == verdict.WITHHELD and "BP's data parallelism" in found["ranks"].text, found["ranks"]
    # No thread sweep, no PyTorch peer: no line at all (not guessed).
    assert "threads" not in found and "pytorch" not in found, sorted(found)
    # The family: mono_forward (1 seed, 97.40 %) against BP's seeds 97.51..97.53: outside BP's spread, below.
    family = found["family_accuracy"]
    assert family.facts["closest"] == "mono_forward" and family.word == verdict.LESS_ACCURATE, family
    assert "97.40 %" in family.text, family.text
    # The report opens with the answer, before the machine table.
    done = subprocess.run([sys.executable, os.path.join(SCRIPTS, "report.py"), run, "--out", os.path.join(scratch, "out")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open(os.path.join(scratch, "out", "REPORT.md")) as f:
        text = f.read()
    assert text.index("## The answer") < text.index("## Machine and build"), text[:400]
    head = text[text.index("## The answer"):text.index("## Machine and build")]
    verdict_lines = [line for line in head.splitlines() if line.startswith("- **")]
    assert 1 <= len(verdict_lines) <= 15 and "**FF's cost per epoch against BP: slower.**" in head, head
    assert os.path.exists(os.path.join(scratch, "out", "plots", "answer.png"))


def check_flip(scratch):
    # A second machine where FF's epoch is faster than BP's (1.5 s against 2 s): the verdict flips.
    write_run(os.path.join(scratch, "published", "quick-b"), "Fixture CPU B", ff_epoch=1.5, isa="avx512_core_bf16")
    out = os.path.join(scratch, "FINDINGS.md")
    done = subprocess.run([sys.executable, os.path.join(SCRIPTS, "findings.py"), "--published", os.path.join(scratch, "published"),
                           "--out", out, "--no-readme"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open(out) as f:
        text = f.read()
    assert "Fixture CPU A, 2 threads, avx2" in text and "Fixture CPU B, 2 threads, avx512_core_bf16" in text, text[:800]
    section = text[text.index("### FF's cost per epoch against BP"):]
    section = section[:section.index("\n### ")]
    assert "**Flips**: slower on Fixture CPU A" in section and "faster on Fixture CPU B" in section, section
    assert "ISA avx2 vs avx512_core_bf16" in section, section
    # The depth verdict is the same on both: it holds, and is listed so.
    assert "Holds on all 2 machines that measured it: Scaling with depth, FF against BP (`quick`): scales better." in text, text
    # The README block is rewritten between its markers, nothing else.
    readme = os.path.join(scratch, "README.md")
    with open(readme, "w") as f:
        f.write("# x\n<!-- answer:begin -->\nold\n<!-- answer:end -->\nkept\n")
    done = subprocess.run([sys.executable, os.path.join(SCRIPTS, "findings.py"), "--published", os.path.join(scratch, "published"),
                           "--out", out, "--readme", readme], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open(readme) as f:
        text = f.read()
    assert "old" not in text and text.endswith("<!-- answer:end -->\nkept\n") and "**flips**" in text, text


def main():
    with tempfile.TemporaryDirectory() as scratch:
        check_one_run(scratch)
        check_flip(scratch)
    print("report_answer_test: ok")


if __name__ == "__main__":
    main()
