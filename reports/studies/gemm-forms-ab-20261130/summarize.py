#!/usr/bin/env python3
"""Prints this A/B's tables (markdown) from threads1.json and threads2.json: medians of the repetitions,
and the step's form over each alternative (above 1: the alternative is faster)."""
import collections
import json
import pathlib
import re
import statistics

HERE = pathlib.Path(__file__).resolve().parent


def medians(path):
    runs = collections.defaultdict(list)
    for b in json.loads(path.read_text())["benchmarks"]:
        if b.get("run_type") == "iteration" and not b.get("error_occurred"):
            args = dict(re.findall(r"(\w+):(\d+)", b["run_name"]))
            runs[(b["run_name"].split("/")[0], tuple(sorted((k, int(v)) for k, v in args.items())))].append(b["real_time"])
    return {k: (statistics.median(v), min(v), max(v)) for k, v in runs.items()}


def cell(m, base):
    return f"{m[0] / 1e3:.2f} ms ({base[0] / m[0]:.2f}x; {m[1] / 1e3:.2f}-{m[2] / 1e3:.2f})"


def main():
    for threads in (1, 2):
        path = HERE / f"threads{threads}.json"
        if not path.exists():
            continue
        med = medians(path)
        print(f"\n### {threads} thread{'s' if threads > 1 else ''}: forms (medians; the step's form over each; range)\n")
        print("| in x out | weight gradient, step (X read transposed) | X copied to X^T + plain | plain on a ready X^T | "
              "input gradient, step (W read transposed) | plain on a ready W^T | W copied to W^T + plain |")
        print("|---|---|---|---|---|---|---|")
        shapes = sorted({(dict(k[1])["in"], dict(k[1])["out"]) for k in med if k[0] == "BM_backward_forms"})
        for i, o in shapes:
            f = [med[("BM_backward_forms", tuple(sorted({"in": i, "out": o, "B": 256, "form": n}.items())))] for n in range(6)]
            print(f"| {i} x {o} | {f[0][0] / 1e3:.2f} ms | {cell(f[1], f[0])} | {cell(f[2], f[0])} | {f[3][0] / 1e3:.2f} ms | "
                  f"{cell(f[4], f[3])} | {cell(f[5], f[3])} |")
        if threads < 2:
            continue
        print("\n### 2 threads: a layer's two backward products at once, one thread each (medians; range)\n")
        print("| in x out | one after the other, 2-thread products | at once, 1-thread products each |")
        print("|---|---|---|")
        for i in sorted({dict(k[1])["in"] for k in med if k[0] == "BM_backward_pair"}):
            m = [med[("BM_backward_pair", tuple(sorted({"in": i, "out": i, "B": 256, "mode": n}.items())))] for n in range(2)]
            print(f"| {i} x {i} | {m[0][0] / 1e3:.2f} ms | {cell(m[1], m[0])} |")
        print("\n### 2 threads: one product split by hand over two 1-thread primitives (medians; oneDNN's own 2-thread partition over each; range)\n")
        print("| in x out | product | oneDNN's 2-thread partition | halves of M | halves of N |")
        print("|---|---|---|---|---|")
        names = ("forward X W", "weight gradient X^T dY", "input gradient dY W^T")
        for i in sorted({dict(k[1])["in"] for k in med if k[0] == "BM_split_product"}):
            for product in range(3):
                m = [med[("BM_split_product", tuple(sorted({"in": i, "out": i, "B": 256, "product": product, "split": n}.items())))]
                     for n in range(3)]
                print(f"| {i} x {i} | {names[product]} | {m[2][0] / 1e3:.2f} ms | {cell(m[0], m[2])} | {cell(m[1], m[2])} |")


if __name__ == "__main__":
    main()
