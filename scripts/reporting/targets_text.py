"""Texts of the report's performance-targets table (reporting/targets.py): a figure against its
goal, the plain-layout bound of a step's GEMMs, and a fraction paired with the ceiling rounds after each
window."""
import statistics


# Rounds (one timing of each shape after a window) whose median falls below this share of the
# fastest-of-5 ceiling mark the host as slower during the windows. Over two quick runs on the Zen 1
# VM (152 train and inference measurements each) the median round sat at 99 % of the ceiling, and
# 8 and 12 of them below 93 %.
HOST_DRIFT = 0.93


def against_goal(fraction, goal):
    """A fraction as a percentage beside its goal: whole points, or one decimal where whole points would
    round onto the goal and hide which side of it the figure is (89.6 % is not 90 %): as many decimals
    (up to 3) as it takes."""
    for decimals in range(0, 4):
        text = f"{100 * fraction:.{decimals}f}"
        if fraction == goal or text != f"{100 * goal:.{decimals}f}":
            return text + "%"
    return f"{100 * fraction:.3f}%"


def plain_layout_bound(p, profile):
    """The best fraction of the ceiling a step can reach in the layouts it runs its GEMMs in
    (row-major, transposed where the step transposes; packed weights where inference reads
    them): each shape at its isolated speed in that layout, no time outside the GEMMs. The
    ceiling takes per shape the faster of that and oneDNN's preferred (blocked, untransposed)
    layout; the gap between the two is the part of a miss that no fusion outside the GEMMs can
    win back. None when a shape of the profile has no ceiling measured in the same point."""
    def key(s):
        return (s["m"], s["n"], s["k"], bool(s.get("trans_a")), bool(s.get("trans_b")), bool(s.get("bf16")))
    measured = {key(s): s for s in (p.get("roofline") or {}).get("shapes", [])}
    at_plain = at_best = 0.0
    for s in profile.get("shapes", []):
        r = measured.get(key(s))
        if r is None or not r.get("plain_gflops") or not r.get("gflops"):
            return None
        flops = s["time_share"] * s["gflops_in_step"]  # proportional to the shape's FLOPs per step
        packed = s.get("packed_b_share", 0.0) if r.get("blocked_gflops") else 0.0  # inference may read packed weights
        at_plain += flops * (1 - packed) / r["plain_gflops"] + (flops * packed / r["blocked_gflops"] if packed else 0.0)
        at_best += flops / r["gflops"]
    return at_best / at_plain if at_plain else None


def paired_text(measured, ceiling=None):
    """The drift check beside a target's figure: each timed window against a ceiling round taken right
    after it, the median and (two or more windows) the windows' range, so a met or missed verdict
    near its goal reads against the run's own spread. The verdict stays with the ceiling's fastest
    timings, the stricter figure."""
    paired = measured.get("paired") or {}
    if "roofline_fraction" not in paired:
        return ""
    fractions = paired.get("fractions") or []
    spread = (f", windows {100 * min(fractions):.0f}-{100 * max(fractions):.0f}%" if len(fractions) >= 2 else "")
    # On several threads: what rewriting data the other cores hold cost the machine right after the
    # windows (measure_shared_write), the host-dependent part of elementwise work's thread scaling.
    shared = (measured.get("shared_write") or {}).get("median_ratio")
    coherence = f"; rewriting data every thread read cost {shared:.1f}x then" if shared else ""
    # A host that slowed down after the ceiling was timed: its rounds (single timings of the same
    # shapes) well below the fastest-of-5 ceiling. The verdict stays with the ceiling; this says why.
    rounds = [r for r in paired.get("ceiling_gflops") or [] if r]
    drift = ""
    if ceiling and rounds and statistics.median(rounds) < HOST_DRIFT * ceiling:
        drift = (f"; the rounds ran these GEMMs at {100 * min(rounds) / ceiling:.0f}-{100 * max(rounds) / ceiling:.0f}% "
                 "of the ceiling: the host was slower during the windows than when the ceiling was timed")
    return f" (paired with a ceiling round after each window: {100 * paired['roofline_fraction']:.0f}%{spread}{coherence}{drift})"
