#!/usr/bin/python3
"""The report's thread-scaling finding for a step's two parts: the same configuration at its fewest and
most threads, the GEMMs' time per step against the time outside them, medians over the points."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from reporting.run import Run  # noqa: E402
from reporting.speed import outside_gemm_findings, update_traffic  # noqa: E402


def point(threads, step_ms, gemm_share, experiment="width", options=None, parts=None):
    return {"status": "ok", "model": "[784,8]->10", "train": {"step_ms_median": step_ms},
            "step_parts": {"parts": [{"part": name, "us_per_step": us} for name, us in (parts or {}).items()]},
            "step_profile": {"gemm_time_share": gemm_share, "concurrent_callers": False},
            "point": {"experiment": experiment, "label": "ff", "measure": "throughput", "batch": 256, "threads": threads,
                      "options": options or {}}}


def main():
    # 1 thread: 10 ms, 90 % in GEMMs (9 + 1 ms); 2 threads, two points: 6 ms at 75 % and 8 ms at 75 %
    # (medians 5.25 ms GEMMs, 1.75 ms outside); another configuration (options) stays apart.
    points = [point(1, 10.0, 0.9), point(2, 6.0, 0.75), point(2, 8.0, 0.75, experiment="threads"),
              point(1, 5.0, 0.5, options={"lr": 0.1})]
    findings = outside_gemm_findings(Run({}, points))
    assert len(findings) == 1, findings
    finding = findings[0]
    assert "1 -> 2 threads (1 and 2 point(s), medians)" in finding, finding
    assert "fell 1.71x (9.00 -> 5.25 ms)" in finding, finding
    assert "the time outside them 0.57x (1.00 -> 1.75 ms)" in finding, finding
    assert "from 10% to 25%" in finding, finding
    assert "per part" not in finding, finding  # no point recorded its parts
    # With parts: the parts without products, medians per thread count, largest at the most threads
    # first; product parts and FF's neutral pass left out.
    parts1 = {"forward products": 4000.0, "neutral pass (products)": 900.0, "update": 300.0, "inputs": 150.0}
    points = [point(1, 10.0, 0.9, parts=parts1),
              point(2, 6.0, 0.75, parts={"forward products": 2000.0, "update": 500.0, "inputs": 100.0}),
              point(2, 8.0, 0.75, experiment="threads", parts={"forward products": 2100.0, "update": 700.0, "inputs": 120.0})]
    finding = outside_gemm_findings(Run({}, points))[0]
    assert finding.endswith(" Outside the products, per part (us per step): update 300 -> 600 (0.50x); inputs 150 -> 110 (1.36x)."), finding
    # The same scaling with the memory roof recorded: the update's rate and its share of the roof at
    # each thread count (medians), after the parts.
    for q, update_us, roof in ((points[0], 300.0, 10.0), (points[1], 500.0, 20.0), (points[2], 700.0, 20.0)):
        q["memory"] = {"weights": 1_000_000, "grads": 1_000_000, "optimizer": 2_000_000}  # 7 MB moved
        q["memory_bandwidth"] = {"gbps": roof}
    finding = outside_gemm_findings(Run({}, points))[0]
    # 1 thread: 7 MB / 300 us = 23.3 GB/s, 233 % of 10; 2 threads: 14.0 and 10.0 GB/s, medians 12.0 GB/s and 60 %.
    assert finding.endswith(" The update reads and writes its weights, gradients and optimizer state at 23.3 GB/s on 1 and "
                            "12.0 GB/s on 2 threads: 233% and 60% of the memory roof measured with each point."), finding
    # The update against the memory roof: weights and optimizer state read and written, gradients read
    # (2 x 1 MB + 1 MB + 2 x 2 MB = 7 MB) in 700 us is 10 GB/s; without the roof, or the part, nothing.
    p = point(2, 6.0, 0.75, parts={"forward products": 2000.0, "update": 700.0})
    p["memory"] = {"weights": 1_000_000, "grads": 1_000_000, "optimizer": 2_000_000}
    assert update_traffic(p) is None, "no memory roof recorded: no figure"
    p["memory_bandwidth"] = {"gbps": 20.0}
    us, moved, gbps, roof = update_traffic(p)
    assert (us, moved, roof) == (700.0, 7_000_000, 20.0), (us, moved, roof)
    assert abs(gbps - 10.0) < 1e-9, gbps
    p["step_parts"]["parts"] = [{"part": "forward products", "us_per_step": 2000.0}]
    assert update_traffic(p) is None, "no update part: no figure"
    print("ok")


if __name__ == "__main__":
    main()
