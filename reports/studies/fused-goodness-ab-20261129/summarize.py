#!/usr/bin/python3
"""Per point: goodness/softmax time ratio per arm, and HEAD/baseline (B/A) throughput ratios per round."""
import collections, glob, json, os, statistics as st, sys

for folder in sys.argv[1:] or sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "round*"))):
    runs = collections.defaultdict(lambda: collections.defaultdict(dict))
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        point, arm, rnd, _ = os.path.basename(path).rsplit(".", 3)
        d = json.load(open(path))
        inf = d["inference"]
        runs[point][arm][int(rnd)] = (inf["softmax"]["samples_per_s_median"] / inf["goodness"]["samples_per_s_median"],
                                      inf["goodness"]["samples_per_s_median"], inf["softmax"]["samples_per_s_median"],
                                      d["train"]["samples_per_s_median"])
    print(os.path.basename(folder))
    for point, arms in sorted(runs.items()):
        a, b = arms["A"], arms["B"]
        rounds = sorted(set(a) & set(b))
        print(f"  {point} ({len(rounds)} rounds)")
        for arm, data in (("A", a), ("B", b)):
            print(f"    goodness/softmax time ratio {arm}: median {st.median(data[r][0] for r in rounds):.2f} "
                  f"(rounds {', '.join(f'{data[r][0]:.2f}' for r in rounds)})")
        for name, i in (("goodness", 1), ("softmax", 2), ("train", 3)):
            ratios = [b[r][i] / a[r][i] for r in rounds]
            print(f"    {name} samples/s B/A: median {st.median(ratios):.3f} (rounds {', '.join(f'{x:.3f}' for x in ratios)})")
