#!/usr/bin/python3
"""Clean-run false alarms of the regression check, from one long A/B run split into checks.

Reads a `check_regression.py --json-out` file of one run with many rounds (--no-confirm) and cuts
its rounds into consecutive blocks of ROUNDS (default 8). Each block is decided as a check would
decide it: per algorithm and wall metric, the median over the block's rounds of HEAD/baseline and
the one-sided Wilcoxon p; an algorithm past MIN_EFFECT gets the confirmation rounds (the next
block's rounds of it, as the check would measure ROUNDS more) and then all of them decide.
Prints each block's verdicts, the worst ratio and smallest p, and the count of false alarms."""
import json
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts"))
from regression.common import ALPHA, MIN_EFFECT, wilcoxon_less  # noqa: E402


def decide(head, base):
    logs = [math.log(h / b) for h, b in zip(head, base)]
    return math.exp(statistics.median(logs)), wilcoxon_less(logs)


def main():
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    data = json.load(open(path))
    samples, algorithms = data["samples"], data["algorithms"]
    total = len(samples["head"][algorithms[0]])
    blocks = total // rounds
    alarms, worst_ratio, smallest_p, confirmations = 0, 9.0, 1.0, 0
    print(f"{path}: {total} rounds, {len(algorithms)} algorithms, blocks of {rounds}: {blocks} checks "
          f"(MIN_EFFECT {MIN_EFFECT}, ALPHA {ALPHA})")
    for k in range(blocks):
        lo, hi = k * rounds, (k + 1) * rounds
        verdicts = []
        for algorithm in algorithms:
            for metric in ("train_samples_per_s", "gemm_gflops"):
                head = [s[metric] for s in samples["head"][algorithm]]
                base = [s[metric] for s in samples["baseline"][algorithm]]
                ratio, p = decide(head[lo:hi], base[lo:hi])
                confirmed = ""
                if ratio < 1 - MIN_EFFECT:  # the check's confirmation: ROUNDS more rounds, then all decide
                    more = hi + rounds if hi + rounds <= total else None
                    if more is None:  # the last block borrows the rounds before it
                        ratio, p = decide(head[lo - rounds:hi], base[lo - rounds:hi])
                    else:
                        ratio, p = decide(head[lo:more], base[lo:more])
                    confirmations += 1
                    confirmed = " (confirmed over 2x rounds)"
                bad = ratio < 1 - MIN_EFFECT and p < ALPHA
                alarms += bad
                worst_ratio, smallest_p = min(worst_ratio, ratio), min(smallest_p, p)
                verdicts.append((ratio, p, f"{algorithm}/{metric}", bad, confirmed))
        verdicts.sort()
        low = ", ".join(f"{name} {ratio:.3f} p={p:.2g}{c}" for ratio, p, name, _, c in verdicts[:3])
        flagged = [name for *_, name, bad, _ in verdicts if bad]
        print(f"check {k + 1} (rounds {lo + 1}-{hi}): {'FALSE ALARM ' + ', '.join(flagged) if flagged else 'clean'}; lowest: {low}")
    print(f"{alarms} false alarm(s) in {blocks} checks x {2 * len(algorithms)} wall metrics; "
          f"{confirmations} metric(s) needed confirmation rounds; worst ratio {worst_ratio:.3f}, smallest p {smallest_p:.2g}")


if __name__ == "__main__":
    main()
