#!/usr/bin/python3
"""PyTorch peers of ffbench's bp and ff: the same configurations, measured the same way.

Two uses:
  torch_peer.py --point POINT.json --out RESULT.json
      run one suite point (what `ffbench run` does for "engine": "torch"), writing the same result
      schema as ffbench's points (convergence: per-epoch test accuracy and training wall time;
      throughput: train and inference samples/s; peak RSS);
  torch_peer.py --equal-work --algorithm ff --options JSON --weights W0 --batch BATCH --steps K --out DIR
      start from an ffbench weights file, run K steps on one saved batch, write the losses and the
      updated weights (ffbench's format) for tests/peer_equal_work_test.sh.

Thread pools: PyTorch's intra-op pool, its inter-op pool and OpenBLAS's pool are all set to the
point's thread count and OMP_WAIT_POLICY=PASSIVE before torch is imported (the script re-executes
itself with that environment); the settings are recorded in the result.

BLAS: Debian's PyTorch runs f32 matmul through whatever libblas.so.3 is (OpenBLAS with
libopenblas0-pthread). OpenBLAS 0.3.21 does not know the newest CPUs and silently falls back to its
generic SSE3 'Prescott' kernel there (38-51 GFLOP/s instead of 142-188 on an Intel Xeon family 6
model 207, where oneDNN ran 176-199). So the peer records which BLAS and kernel it runs ("blas"),
sets OPENBLAS_CORETYPE to the best matching AVX2/AVX-512 kernel when OpenBLAS would fall back and
the user has not set it (a user's OPENBLAS_CORETYPE is kept and recorded), and times its own f32
GEMM on the matmul shapes of ffbench's ceiling for the same point, in the same run ("gemm": shapes
from `$FFBENCH_BIN shapes --point-file`, or the peer's own layer shapes when run by hand), so the
report can tell a slow framework from a handicapped BLAS.
Denormals: the point's "denormals" ("flush", the default, or "keep") is applied with
torch.set_flush_denormal and checked on the BLAS and OpenMP threads ("denormals" in the result).
Run with /usr/bin/python3 (Debian's python3-torch: scripts/setup.sh --with-peers).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_blas import blas_record, set_pools_and_reexec  # noqa: E402  (BLAS identity, core-type fix, thread pools)
from peer_model import Model, load_dataset, write_json_atomic  # noqa: E402  (datasets, the bp / ff model)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from reporting.status import Status  # noqa: E402  (a point's status, as the result files write it)


# ---- the peer's own GEMM rate, on the shapes of ffbench's ceiling ---------------------------------
def ffbench_shapes(point_path):
    """(shapes, None) from `$FFBENCH_BIN shapes --point-file POINT` (what `ffbench run` passes), or
    (None, why not)."""
    binary = os.environ.get("FFBENCH_BIN")
    if not binary:
        return None, "FFBENCH_BIN is not set (the peer was run by hand, not by 'ffbench run')"
    if not point_path:
        return None, "no point file to give 'ffbench shapes'"
    try:
        done = subprocess.run([binary, "shapes", "--point-file", point_path], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"{binary} shapes could not run: {error}"
    if done.returncode != 0:
        return None, f"{binary} shapes failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    try:
        lines = [line for line in done.stdout.splitlines() if line.strip().startswith("{")]
        shapes = json.loads(lines[-1])["shapes"]
        for shape in shapes:
            for field in ("m", "n", "k"):
                if not isinstance(shape[field], int) or shape[field] <= 0:
                    raise ValueError(f"{field}={shape[field]!r}")
        if not shapes:
            raise ValueError("no shapes")
    except (IndexError, KeyError, TypeError, ValueError) as error:
        return None, f"{binary} shapes printed no usable shapes ({error!r}): {done.stdout.strip()[:200]}"
    return shapes, None


def measure_gemm(torch, shapes, timings):
    """f32 torch.mm on each shape (transposes as .t() views: ffbench's strides), measured as ffbench
    measures its ceiling (bench/harness/point.cpp): one warm-up call, enough calls for about 20 ms
    per timing, the fastest of `timings`. Total: FLOPs over time, weighted by runs_per_step."""
    measured, total_flops, total_seconds = [], 0.0, 0.0
    for shape in shapes:
        m, n, k = shape["m"], shape["n"], shape["k"]
        trans_a, trans_b = bool(shape.get("trans_a")), bool(shape.get("trans_b"))
        a = torch.rand(k, m) if trans_a else torch.rand(m, k)
        b = (torch.rand(n, k) if trans_b else torch.rand(k, n)) - 0.5
        a, b = (a.t() if trans_a else a), (b.t() if trans_b else b)
        c = torch.empty(m, n)
        torch.mm(a, b, out=c)
        start = time.perf_counter()
        torch.mm(a, b, out=c)
        calls = max(1, int(0.02 / max(time.perf_counter() - start, 1e-6)))
        seconds = float("inf")
        for _ in range(timings):
            start = time.perf_counter()
            for _ in range(calls):
                torch.mm(a, b, out=c)
            seconds = min(seconds, (time.perf_counter() - start) / calls)
        flops = 2.0 * m * n * k
        runs = int(shape.get("runs_per_step", 1))
        measured.append(dict(shape, gflops=flops / seconds * 1e-9))
        total_flops += flops * runs
        total_seconds += seconds * runs
    return {"shapes": measured, "gflops": total_flops / total_seconds * 1e-9 if total_seconds > 0 else 0.0,
            "precision": "f32", "timings": timings}


def point_gemm(torch, point_path, model, batch, timings):
    """The peer's GEMM rate on the shapes of ffbench's ceiling for this point (its own when run by hand)."""
    shapes, why = ffbench_shapes(point_path)
    source = "ffbench shapes"
    if shapes is None:
        shapes, source = model.gemm_shapes(batch), "peer's own layer shapes"
    gemm = measure_gemm(torch, shapes, timings)
    gemm["source"] = source
    if why:
        gemm["why_not_ffbench_shapes"] = why
    return gemm


# ---- denormals (issue 17) -------------------------------------------------------------------------
def set_denormals(torch, setting):
    """flush: FTZ/DAZ (subnormal floats become 0, as ffbench's default); keep: IEEE subnormals. Then
    checks that it holds where the work runs: a product of subnormals on OpenBLAS's threads (it passes
    the caller's MXCSR to them) and an elementwise op on PyTorch's OpenMP threads."""
    if setting not in ("flush", "keep"):
        raise ValueError(f"denormals '{setting}': use 'flush' (FTZ/DAZ on, the default) or 'keep' (IEEE subnormals)")
    supported = torch.set_flush_denormal(setting == "flush")
    # 1000 * 2^-149, a subnormal, made from its bits: a conversion from a literal would itself flush.
    tiny = torch.full((512, 512), 1000, dtype=torch.int32).view(torch.float32)
    product = torch.mm(tiny, torch.ones(512, 512))
    scaled = torch.full((1 << 18,), 1000, dtype=torch.int32).view(torch.float32) * 0.5
    if setting == "flush":
        holds = bool((product == 0).all()) and bool((scaled == 0).all())
    else:
        holds = bool((product != 0).all()) and bool((scaled != 0).all())
    return {"setting": setting, "supported": bool(supported), "all_threads": holds}


def peak_rss():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def resolved_options(algorithm, options):
    """The options ffbench runs with: its declared defaults (`$FFBENCH_BIN list --json`) under the given
    ones, so a default ffbench changes (a tuned learning rate, weight decay) is the peer's too."""
    binary = os.environ.get("FFBENCH_BIN")
    if not binary:
        return dict(options)
    listed = json.loads(subprocess.run([binary, "list", "--json"], capture_output=True, text=True, check=True).stdout)
    for entry in listed["algorithms"]:
        if entry["name"] == algorithm:
            merged = {option["name"]: option["default"] for option in entry["options"]}
            merged.update(options)
            return merged
    return dict(options)


def run_point(point, pools, point_path=None):
    import torch
    torch.set_num_threads(point["threads"])
    torch.set_num_interop_threads(1)
    denormals = set_denormals(torch, point.get("denormals", "flush"))  # before any pool runs work
    result = {"schema_version": 1, "id": point["id"], "point": point, "engine": "torch", "threads": point["threads"],
              "torch_version": torch.__version__, "blas": blas_record(torch), "denormals": denormals,
              "thread_pools": dict(pools, torch_threads=torch.get_num_threads(),
                                   torch_interop_threads=torch.get_num_interop_threads())}
    algorithm = point["algorithm"]
    options = resolved_options(algorithm, point["options"])
    unsupported = [k for k in options if k in ("peer_normalization", "schedule")
                   and options[k] not in (0, 0.0, "simultaneous", "layerwise")]
    if algorithm not in ("bp", "ff", "ff_symba") or unsupported:
        return dict(result, status=Status.SKIPPED, detail=f"the PyTorch peer does not implement {algorithm} {unsupported}")
    if point["dataset"] == "synthetic":
        return dict(result, status=Status.SKIPPED, detail="the synthetic dataset is generated inside ffbench; the PyTorch peer runs on mnist or fashion")
    sizes = [784] + point["hidden"]
    model = Model(algorithm, options, sizes, 10, point["seed"])
    result["model"] = "[" + ",".join(map(str, sizes)) + "]->10"
    result["modes"] = model.modes()
    result["flops_per_sample"] = {"train": model.flops("train", None),
                                  "inference": {m: model.flops("inference", m) for m in model.modes()}}
    # Beside the training figures, the rate of the BLAS itself on the shapes ffbench's ceiling uses:
    # a framework ratio means little when one side's GEMM runs a fallback kernel. Cheaper (3 timings)
    # once per convergence point.
    result["gemm"] = point_gemm(torch, point_path, model, point["batch"], 7 if point["measure"] == "throughput" else 3)
    if point["measure"] == "throughput":
        result.update(throughput_figures(torch, model, point))
    elif not convergence_figures(torch, model, point, result):
        return result  # diverged
    result["memory"] = {"peak_rss": peak_rss()}
    result["status"] = Status.OK
    return result


def throughput_figures(torch, model, point):
    """Train samples/s over timed windows of steps on 8 seeded random batches, and inference samples/s per mode."""
    batch = point["batch"]
    generator = torch.Generator().manual_seed(point["seed"])
    xs = torch.rand(8, batch, 784, generator=generator)
    ys = torch.randint(0, 10, (8, batch), generator=generator)
    for i in range(point["warmup"] + 1):
        model.train_step(xs[i % 8], ys[i % 8])
    rates = []
    for r in range(point["repeats"]):
        start = time.perf_counter()
        for s in range(point["steps"]):
            model.train_step(xs[s % 8], ys[s % 8])
        rates.append(point["steps"] * batch / (time.perf_counter() - start))
    rates_sorted = sorted(rates)
    figures = {"train": {"samples_per_s": rates, "samples_per_s_median": rates_sorted[len(rates) // 2],
                         "samples_per_s_min": rates_sorted[0], "samples_per_s_max": rates_sorted[-1]},
               "inference": {}}
    for mode in model.modes():
        model.scores(xs[0], mode)
        mode_rates = []
        for r in range(point["repeats"]):
            start = time.perf_counter()
            for s in range(point["steps"]):
                model.scores(xs[s % 8], mode)
            mode_rates.append(point["steps"] * batch / (time.perf_counter() - start))
        figures["inference"][mode] = {"samples_per_s": mode_rates, "samples_per_s_median": sorted(mode_rates)[len(mode_rates) // 2]}
    return figures


def convergence_figures(torch, model, point, result):
    """Trains epoch by epoch on the dataset, evaluating as ffbench does (every eval_every epochs and the
    last); fills the result's epochs, final accuracy and time to target. False when the loss diverged
    (the result then says so)."""
    x_train, y_train, x_test, y_test = load_dataset(point["dataset"], point["limit_train"], point["limit_test"],
                                                    point.get("standardize", False))
    batch, eval_every = point["batch"], point.get("eval_every", 1)
    result["train_samples"], result["test_samples"] = len(y_train), len(y_test)
    generator = torch.Generator().manual_seed(point["seed"] * 7919 + 17)
    epochs, train_seconds = [], 0.0
    progress = {"steps": 0, "last_note": time.perf_counter()}
    for epoch in range(point["epochs"]):
        model.epoch = epoch
        losses, epoch_seconds = train_epoch(torch, model, x_train, y_train, batch, generator, progress, train_seconds)
        train_seconds += epoch_seconds
        loss = sum(losses) / max(len(losses), 1)
        if loss != loss or loss in (float("inf"), float("-inf")):
            epochs.append({"epoch": epoch + 1, "train_loss": loss, "train_seconds": train_seconds})
            result.update(status=Status.DIVERGED, detail=f"loss {loss} in epoch {epoch + 1}", epochs=epochs)
            return False
        last = epoch + 1 == point["epochs"] or (point.get("time_budget_s", 0) and train_seconds >= point["time_budget_s"])
        if not last and (epoch + 1) % eval_every:
            continue  # as ffbench: an epoch without evaluation is not recorded
        eval_start = time.perf_counter()
        record = {"epoch": epoch + 1, "train_loss": loss, "train_seconds": train_seconds, "epoch_seconds": epoch_seconds,
                  "samples_per_second": len(losses) * batch / epoch_seconds, "test_accuracy": {}, "test_loss": {}}
        evaluate(torch, model, x_test, y_test, batch, record)
        record["eval_seconds"] = time.perf_counter() - eval_start
        epochs.append(record)
        if point.get("time_budget_s", 0) and train_seconds >= point["time_budget_s"]:
            break
    result["epochs"] = epochs
    result["final_accuracy"] = epochs[-1]["test_accuracy"]
    result["time_to_target"] = {m: {f"{t:.4g}": next(({"epoch": e["epoch"], "seconds": e["train_seconds"]} for e in epochs
                                                      if e["test_accuracy"][m] >= t), None) for t in point.get("targets", [])}
                                for m in model.modes()}
    return True


def train_epoch(torch, model, x_train, y_train, batch, generator, progress, train_seconds):
    """One epoch in a seeded order: each step's loss and the epoch's training seconds; a progress line
    on stderr every 30 s (the point's .stderr) for long runs."""
    order = torch.randperm(len(y_train), generator=generator)
    losses = []
    start = time.perf_counter()
    for i in range(len(y_train) // batch):
        index = order[i * batch:(i + 1) * batch]
        losses.append(model.train_step(x_train[index], y_train[index]))
        progress["steps"] += 1
        if time.perf_counter() - progress["last_note"] >= 30.0:
            progress["last_note"] = time.perf_counter()
            print(f"step {progress['steps']}: {train_seconds + progress['last_note'] - start:.1f} s of training",
                  file=sys.stderr, flush=True)
    return losses, time.perf_counter() - start


def evaluate(torch, model, x_test, y_test, batch, record):
    """Test accuracy and mean cross-entropy per prediction mode, into the epoch's record."""
    for mode in model.modes():
        correct, nll = 0, 0.0
        for i in range(0, len(y_test), batch):
            s = model.scores(x_test[i:i + batch], mode)
            correct += int((s.argmax(dim=1) == y_test[i:i + batch]).sum())
            nll += float(torch.nn.functional.cross_entropy(s, y_test[i:i + batch], reduction="sum"))
        record["test_accuracy"][mode] = correct / len(y_test)
        record["test_loss"][mode] = nll / len(y_test)


# ---- equal work with ffbench: its weights file format (algorithms/README.md) ----
def read_weights(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"FFBW", f"{path}: not an ffbench weights file"
    pos = 8
    def text():
        nonlocal pos
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        s = data[pos:pos + n].decode()
        pos += n
        return s
    algorithm, spec = text(), json.loads(text())
    (count,) = struct.unpack_from("<I", data, pos)
    pos += 4
    buffers = {}
    for _ in range(count):
        name = text()
        (floats,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        buffers[name] = list(struct.unpack_from(f"<{floats}f", data, pos))
        pos += 4 * floats
    return algorithm, spec, buffers


def equal_work(args):
    import torch
    torch.set_num_threads(1)
    denormals = set_denormals(torch, args.denormals)
    algorithm, spec, buffers = read_weights(args.weights)
    options = json.loads(args.options)
    sizes = [spec["input"]] + spec["hidden"]
    model = Model(args.algorithm, options, sizes, spec["classes"], 1)
    with torch.no_grad():
        for l, (w, b) in enumerate(model.layers):
            w.copy_(torch.tensor(buffers[f"layer{l}.weight"]).view_as(w))
            b.copy_(torch.tensor(buffers[f"layer{l}.bias"]))
        if args.algorithm != "bp" and model.classifier_on:
            model.cw.copy_(torch.tensor(buffers["classifier.weight"]).view_as(model.cw))
            model.cb.copy_(torch.tensor(buffers["classifier.bias"]))
    with open(args.batch, "rb") as f:
        raw = f.read()
    rows, d = struct.unpack_from("<qq", raw, 0)
    x = torch.tensor(struct.unpack_from(f"<{rows * d}f", raw, 16)).view(rows, d)
    y = torch.tensor(struct.unpack_from(f"<{rows}i", raw, 16 + 4 * rows * d), dtype=torch.long)
    losses = [model.train_step(x, y) for _ in range(args.steps)]
    weights = {}
    for l, (w, b) in enumerate(model.layers):
        weights[f"layer{l}.weight"] = w.detach().flatten().tolist()
        weights[f"layer{l}.bias"] = b.detach().flatten().tolist()
    write_json_atomic(args.out, {"losses": losses, "weights": weights, "blas": blas_record(torch), "denormals": denormals})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--point", help="suite point file (JSON) written by ffbench run")
    parser.add_argument("--out", required=True, help="result file (JSON)")
    parser.add_argument("--equal-work", action="store_true", help="run K steps from an ffbench weights file on one batch")
    parser.add_argument("--algorithm", default="ff")
    parser.add_argument("--options", default="{}")
    parser.add_argument("--weights")
    parser.add_argument("--batch")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--denormals", default="flush", choices=("flush", "keep"),
                        help="with --equal-work: flush (FTZ/DAZ, ffbench's default) or keep (IEEE subnormals)")
    args = parser.parse_args()
    if args.equal_work:
        set_pools_and_reexec(1)
        return equal_work(args)
    if not args.point:
        parser.error("give --point (a suite point) or --equal-work")
    with open(args.point) as f:
        point = json.load(f)
    pools = set_pools_and_reexec(point["threads"])
    try:
        import torch  # noqa: F401
    except ImportError:
        write_json_atomic(args.out, {"schema_version": 1, "id": point["id"], "point": point, "status": Status.SKIPPED,
                                     "detail": "PyTorch is not installed: scripts/setup.sh --with-peers installs python3-torch"})
        print(f"{point['id']}: skipped (PyTorch is not installed; scripts/setup.sh --with-peers)")
        return 0
    started = time.perf_counter()
    try:
        result = run_point(point, pools, args.point)
    except Exception as error:  # recorded, so the sweep goes on
        result = {"schema_version": 1, "id": point["id"], "point": point, "status": Status.FAILED, "detail": repr(error)}
    result["wall_seconds"] = time.perf_counter() - started
    write_json_atomic(args.out, result)
    summary = ""
    if result.get("final_accuracy"):
        summary = " ".join(f"{m} {100 * a:.2f}%" for m, a in result["final_accuracy"].items())
    if result.get("train"):
        summary = f"train {result['train']['samples_per_s_median']:.0f} samples/s"
    print(f"{point['id']} {result['status']} in {result['wall_seconds']:.1f}s {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
