"""The answer's questions about the algorithm family and the PyTorch peer (scripts/reporting/answer.py
lists them among its verdicts): the BP-free algorithm closest to BP in accuracy, the fastest against
BP, and ffbench against PyTorch on the same configurations with the peer's handicap where it has one."""
from reporting.common import med
from reporting.family import layer_local
from reporting.peers import PEER_GEMM_FAIR, gemm_share
from reporting.verdict import (FASTER, NO_DIFFERENCE, SLOWER, WITHHELD, Verdict, accuracy_word, best_mode, compare,
                               label_points, rates, ratio_interval, single_process, slug)


def is_layer_local(info):
    return bool(layer_local(info))


def family_experiments(points, measure, field):
    """{experiment: points} of the run's family experiments of one measure: single-process points
    with `field`, four or more algorithms on one network, bp among them."""
    groups = {}
    for p in single_process(points):
        if p["point"]["measure"] == measure and p.get(field):
            groups.setdefault(p["point"]["experiment"], []).append(p)
    return {e: ps for e, ps in groups.items() if len({p["point"]["algorithm"] for p in ps}) >= 4 and label_points(ps, "bp")}


def family_accuracy(points, algorithms):
    """The BP-free algorithm (every algorithm but bp) with the best accuracy in the run's family
    experiment (four or more algorithms on one network), against bp in the same experiment."""
    groups = family_experiments(points, "convergence", "final_accuracy")
    if not groups:
        return None
    experiment = sorted(groups, key=lambda e: (e not in ("convergence", "family"), e))[0]
    ps = groups[experiment]
    accuracy = {}
    for label in {p["point"]["label"] for p in ps}:
        mine = label_points(ps, label)
        mode = best_mode(mine)
        accuracy[label] = [(p.get("final_accuracy") or {}).get(mode) for p in mine]
    bp = accuracy.pop("bp")
    candidates = {l: a for l, a in accuracy.items() if l == label_points(ps, l)[0]["point"]["algorithm"]}
    if not candidates:
        return None
    best = max(candidates, key=lambda l: med(candidates[l]))
    mine = candidates[best]
    local = is_layer_local(algorithms.get(best))
    text = (f"{best} ({'its layers learn locally' if local else 'a backward pass still crosses its layers'}) reached "
            f"{100 * med(mine):.2f} % ({len(mine)} seed{'s' if len(mine) > 1 else ''}) against BP's {100 * med(bp):.2f} % "
            f"({100 * min(bp):.2f}-{100 * max(bp):.2f} over {len(bp)} seed{'s' if len(bp) > 1 else ''}), `{experiment}`")
    locals_ = {l: a for l, a in candidates.items() if is_layer_local(algorithms.get(l))}
    if not local and locals_:
        best_local = max(locals_, key=lambda l: med(locals_[l]))
        text += f"; of the layer-local ones, {best_local} {100 * med(locals_[best_local]):.2f} %"
    if len(bp) < 2:
        return Verdict("family_accuracy", "The BP-free algorithm closest to BP in accuracy", WITHHELD,
                       text + ". BP has one seed: no spread to compare.", slug("The algorithm family"), facts={"closest": best})
    word = accuracy_word(mine, bp)
    spread = "" if len(mine) > 1 else " (within BP's seed spread is as far as one seed can say)"
    return Verdict("family_accuracy", "The BP-free algorithm closest to BP in accuracy", word,
                   text + f"{spread if word == NO_DIFFERENCE else ''}.", slug("The algorithm family"),
                   med(mine) - med(bp), facts={"closest": best})


def family_speed(points, algorithms):
    groups = family_experiments(points, "throughput", "train")
    if not groups:
        return None
    experiment = sorted(groups)[0]
    ps = groups[experiment]
    bp = rates(label_points(ps, "bp")[0])
    candidates = {p["point"]["label"]: rates(p) for p in ps if p["point"]["label"] != "bp" and p["point"]["label"] == p["point"]["algorithm"]}
    best = max(candidates, key=lambda l: med(candidates[l]))
    ratio, low, high = ratio_interval(candidates[best], bp)
    local = is_layer_local(algorithms.get(best))
    model = ps[0].get("model")
    text = (f"{best} ({'layer-local' if local else 'end to end'}) trains at {ratio:.2f}x BP's samples/s ({low:.2f}-{high:.2f} "
            f"over the timed repeats; {model}, B {ps[0]['point']['batch']}, `{experiment}`)")
    locals_ = {l: r for l, r in candidates.items() if is_layer_local(algorithms.get(l))}
    if not local and locals_:
        best_local = max(locals_, key=lambda l: med(locals_[l]))
        text += f"; the fastest layer-local one, {best_local}, {med(locals_[best_local]) / med(bp):.2f}x"
    ff = candidates.get("ff")
    if ff:
        text += f"; FF {med(ff) / med(bp):.2f}x"
    return Verdict("family_speed", "The fastest BP-free algorithm against BP", compare(low, high, FASTER, SLOWER),
                   text + ".", slug("The algorithm family"), ratio, (low, high), {"fastest": best})


def peer_share(twin, peer):
    """The peer's GEMM rate over oneDNN's plain one on the same shapes (reporting/peers.py), None if unknown."""
    if not twin.get("roofline"):
        return None
    return gemm_share(twin["roofline"], peer.get("gemm"))[0]


def pytorch(run):
    """ffbench against the PyTorch peer per algorithm; where the run paired one configuration with
    several peers (e.g. a run with FFBENCH_PEER_OPENBLAS=detect beside one without), the fairest
    pairing (the peer's GEMM nearest oneDNN's) is the one the line uses."""
    pairs = {}
    for t in run.peers:
        q = t["point"]
        if q["measure"] != "throughput" or not t.get("train"):
            continue
        twin = next((p for p in run.ok if p["point"]["measure"] == "throughput" and p["point"]["algorithm"] == q["algorithm"]
                     and p["point"]["hidden"] == q["hidden"] and p["point"]["batch"] == q["batch"]
                     and p["point"]["threads"] == q["threads"] and p["point"]["experiment"] == q["experiment"]), None)
        if not twin:
            continue
        share = peer_share(twin, t)
        if q["algorithm"] in pairs and (pairs[q["algorithm"]][3] or 0.0) >= (share or 0.0):
            continue
        pairs[q["algorithm"]] = (ratio_interval(rates(twin), t["train"].get("samples_per_s") or [t["train"]["samples_per_s_median"]]),
                                 twin, t, share)
    if not pairs:
        return None
    parts, words, handicaps = [], [], []
    for algorithm in sorted(pairs, key=lambda a: (a != "ff", a)):
        (ratio, low, high), twin, peer, share = pairs[algorithm]
        note = ""
        if share is not None and share < PEER_GEMM_FAIR:
            note = f", peer handicapped: its BLAS ({(peer.get('blas') or {}).get('corename', '?')}) at {100 * share:.0f} % of oneDNN's GEMM"
            handicaps.append(algorithm)
        parts.append(f"{algorithm} {ratio:.2f}x ({low:.2f}-{high:.2f}{note})")
        words.append(compare(low, high, FASTER, SLOWER))
    word = words[0] if len(set(words)) == 1 else NO_DIFFERENCE
    text = ("ffbench's training samples/s over PyTorch's on the same configuration: " + ", ".join(parts)
            + " over the timed repeats" + (" (a BLAS comparison more than a framework one where handicapped)" if handicaps else "") + ".")
    return Verdict("pytorch", "ffbench against PyTorch", word, text, slug("Side by side with PyTorch"),
                   pairs.get("ff", next(iter(pairs.values())))[0][0])
