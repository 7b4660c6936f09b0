#!/usr/bin/python3
"""The plain-layout bound beside each missed speed target: the step's GEMMs at their isolated speed in
the layouts the step runs them in, as a fraction of the ceiling (per shape the faster layout)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from reporting.targets_text import against_goal, paired_text, plain_layout_bound  # noqa: E402


def shape(m, n, k, **extra):
    return {"m": m, "n": n, "k": k, "trans_a": False, "trans_b": False, "bf16": False, **extra}


def main():
    # Two shapes with equal FLOPs per step (time share x in-step rate): 0.3 x 200 = 0.2 x 300 = 60.
    roofline = {"shapes": [shape(8, 8, 8, plain_gflops=100.0, blocked_gflops=200.0, gflops=200.0),
                           shape(8, 8, 4, trans_a=True, plain_gflops=300.0, blocked_gflops=150.0, gflops=300.0)]}
    profile = {"shapes": [shape(8, 8, 8, time_share=0.3, gflops_in_step=200.0),
                          shape(8, 8, 4, trans_a=True, time_share=0.2, gflops_in_step=300.0)]}
    point = {"roofline": roofline}
    # At the ceiling: 60/200 + 60/300 = 0.5 time units; in the plain layouts: 60/100 + 60/300 = 0.8.
    bound = plain_layout_bound(point, profile)
    assert abs(bound - 0.5 / 0.8) < 1e-12, bound
    # Inference reading the first shape's weights packed for all its FLOPs: the bound is the ceiling.
    profile["shapes"][0]["packed_b_share"] = 1.0
    assert abs(plain_layout_bound(point, profile) - 1.0) < 1e-12
    # The transpose flag is part of the shape: an untransposed twin has no ceiling here, so no bound.
    profile["shapes"][1]["trans_a"] = False
    assert plain_layout_bound(point, profile) is None
    # A figure that whole points would round onto its goal keeps a decimal: 89.6 % is a miss of 90 %.
    assert against_goal(0.896, 0.9) == "89.6%" and against_goal(0.904, 0.9) == "90.4%"
    assert against_goal(0.89996, 0.9) == "89.996%" and against_goal(0.8998, 0.9) == "89.98%"
    assert against_goal(0.9, 0.9) == "90%" and against_goal(0.86, 0.9) == "86%" and against_goal(0.953, 0.9) == "95%"
    # The drift check's text: the median of the window-to-round ratios and the windows' range.
    assert paired_text({"paired": {"roofline_fraction": 0.84, "fractions": [0.80, 0.84, 0.86]}}) == \
        " (paired with a ceiling round after each window: 84%, windows 80-86%)"
    assert paired_text({"paired": {"roofline_fraction": 0.84, "fractions": [0.84]}}) == \
        " (paired with a ceiling round after each window: 84%)"
    assert paired_text({"paired": None}) == "" and paired_text({}) == ""
    # Several threads: the machine's shared-write cost measured after the windows.
    assert paired_text({"paired": {"roofline_fraction": 0.7, "fractions": [0.7, 0.74]},
                        "shared_write": {"median_ratio": 6.44, "ratios": [6.0, 6.44, 7.0]}}) == \
        " (paired with a ceiling round after each window: 70%, windows 70-74%; rewriting data every thread read cost 6.4x then)"
    print("ok")


if __name__ == "__main__":
    main()
