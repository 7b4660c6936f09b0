"""The report's "Side by side with PyTorch": ffbench against the PyTorch peer on the same experiment,
algorithm, model, batch, threads and seed; beside each ratio, each side's BLAS, kernel, GEMM rate on the
same shapes and denormal mode. Also the GEMM share the answer and the targets mark a handicapped peer by."""
from collections import defaultdict

from reporting.common import MiB, fmt_num, med, table
from reporting.status import Status

# A framework ratio means little when one side's BLAS runs a fallback kernel (issue 12: Debian's
# OpenBLAS 0.3.21 ran its generic kernel at a quarter of oneDNN's rate on a new Xeon). Each side's
# GEMM rate on the same shapes is in the result files; below this share of oneDNN's, a ratio is
# marked as measuring a handicapped peer.
PEER_GEMM_FAIR = 0.80


def plain_rate(entry):
    """oneDNN's plain-layout GEMM rate (a BLAS's like for like) where the ceiling records it beside
    its best-of-layouts rate; the ceiling's rate otherwise (runs before the blocked layout)."""
    return entry.get("plain_gflops") or entry.get("gflops")


def gemm_share(ours, theirs):
    """The peer's GEMM rate over oneDNN's plain GEMM on the shapes both timed (FLOP-weighted by
    ffbench's runs per step), and a note; (None, why) when a side did not record its rate."""
    if not plain_rate(ours or {}):
        return None, "ffbench's ceiling not recorded"
    if not isinstance(theirs, dict) or not theirs.get("gflops"):
        return None, "PyTorch's GEMM rate not recorded"
    def by_shape(gemm, rate):
        return {(s["m"], s["n"], s["k"], bool(s.get("trans_a")), bool(s.get("trans_b"))): s
                for s in gemm.get("shapes", []) if rate(s)}
    mine, peer = by_shape(ours, plain_rate), by_shape(theirs, lambda s: s.get("gflops"))
    common = [key for key in mine if key in peer]
    if not common:
        return theirs["gflops"] / plain_rate(ours), "different shapes"
    flops = {key: 2.0 * key[0] * key[1] * key[2] * mine[key].get("runs_per_step", 1) for key in common}
    seconds_ours = sum(flops[key] / plain_rate(mine[key]) for key in common)
    seconds_peer = sum(flops[key] / peer[key]["gflops"] for key in common)
    return seconds_ours / seconds_peer, ("" if len(common) == len(mine) else f"on {len(common)} of {len(mine)} shapes")


def peer_gemm_share(run, algorithm):
    """The lowest GEMM share of the PyTorch peer's throughput points of this algorithm against the
    matching ffbench points (same model, batch, threads); None when not recorded."""
    shares = []
    for t in run.peers:
        q = t["point"]
        if q["algorithm"] != algorithm or q["measure"] != "throughput" or not t.get("gemm"):
            continue
        twin = next((p for p in run.ok if p["point"]["measure"] == "throughput" and p["point"]["algorithm"] == algorithm
                     and p["point"]["hidden"] == q["hidden"] and p["point"]["batch"] == q["batch"]
                     and p["point"]["threads"] == q["threads"] and p.get("roofline")), None)
        if twin:
            share, _ = gemm_share(twin["roofline"], t["gemm"])
            if share is not None:
                shares.append(share)
    return min(shares) if shares else None


def peer_marked(text, share):
    """A ratio as measured, marked when the peer's BLAS ran under PEER_GEMM_FAIR of oneDNN's rate."""
    if share is not None and share < PEER_GEMM_FAIR:
        return f"{text} (peer handicapped: BLAS at {100 * share:.0f} % of oneDNN)"
    return text


def peer_blas_text(blas):
    if isinstance(blas, str):  # runs before issue 12 recorded only the libblas.so.3 path
        return f"`{'/'.join(blas.split('/')[-2:])}`, kernel not recorded"
    if not isinstance(blas, dict):
        return "not recorded"
    text = f"{blas.get('library') or '?'} {blas.get('corename') or ''}".strip()
    if blas.get("coretype_set_by_peer"):
        text += " (OPENBLAS_CORETYPE set by the peer)"
    elif blas.get("coretype_env"):
        text += " (the user's OPENBLAS_CORETYPE)"
    if blas.get("generic_kernel"):
        text += ", a generic kernel"
    if blas.get("exact") is False:
        text += ", WRONG RESULTS"
    return text


def denormals_text(result):
    denormals = result.get("denormals")
    if not isinstance(denormals, dict) or not denormals.get("setting"):
        return "not recorded"
    text = denormals["setting"]
    if denormals.get("supported") is False:
        text += " (unsupported by the CPU)"
    if denormals.get("all_threads") is False:
        text += " (not on every thread)"
    return text


def pairing_key(p):
    q = p["point"]
    return (q["experiment"], q["algorithm"], tuple(q["hidden"]), q["batch"], q["threads"], q["seed"])


def model_key(p):
    q = p["point"]
    return (q["algorithm"], tuple(q["hidden"]), q["batch"], q["threads"])


def throughput_twin(pool, p):
    """For a convergence point, a throughput point of the same model (the `peers` experiment first,
    the same options first): where a convergence pair finds the GEMM rates it did not measure."""
    same = [c for c in pool if c["point"]["measure"] == "throughput" and model_key(c) == model_key(p)]
    same.sort(key=lambda c: (c["point"]["experiment"] != "peers", c["point"]["options"] != p["point"]["options"]))
    return same[0] if same else None


def peers_section(run):
    if not run.peers:
        skipped = [p for p in run.points if p["point"].get("engine") == "torch" and p.get("status") != Status.OK]
        if not skipped:
            return []
        return ["## Side by side with PyTorch", "", f"{len(skipped)} PyTorch points did not run: "
                f"{skipped[0].get('detail', '')}", ""]
    rows_throughput, rows_convergence, accuracy_gaps, speed = peer_rows(run)
    lines = peers_intro(run)
    if rows_throughput:
        lines += table(["algorithm", "model", "B", "threads", "ffbench train samples/s", "PyTorch", "ffbench / PyTorch",
                        "inference ratio", "GEMM engine and kernel (ffbench / PyTorch)", "GEMM GFLOP/s (ffbench / PyTorch)",
                        "denormals (ffbench / PyTorch)", "peak RSS MiB (ffbench / PyTorch)"], rows_throughput)
    if rows_convergence:
        lines += table(["algorithm", "model", "seed", "epochs", "ffbench s/epoch", "PyTorch s/epoch", "speed-up per epoch",
                        "final test accuracy, ffbench vs PyTorch (points)", "GEMM engine and kernel (ffbench / PyTorch)",
                        "GEMM GFLOP/s (ffbench / PyTorch)", "denormals (ffbench / PyTorch)", "peak RSS MiB"], rows_convergence)
    run.findings.extend(peer_findings(speed, accuracy_gaps))
    return lines


def peer_rows(run):
    """Each PyTorch point beside its ffbench twin: the throughput and convergence tables' rows, the
    accuracy gaps per (algorithm, mode) and the speed ratios per algorithm with the peer's GEMM share."""
    ours = {}
    for p in run.ok:
        ours.setdefault(pairing_key(p), []).append(p)
    isa = f"oneDNN {run.manifest.get('onednn_version') or '?'} {run.manifest.get('onednn_isa') or '(ISA not recorded)'}"
    rows_throughput, rows_convergence = [], []
    accuracy_gaps, speed = defaultdict(list), defaultdict(list)
    for t in run.peers:
        candidates = ours.get(pairing_key(t), [])
        match = next((p for p in candidates if p["point"]["options"] == t["point"]["options"]), candidates[0] if candidates else None)
        if match is None:
            continue
        share, gemm_cell = gemm_cells(run, match, t)
        cells = [f"{isa} / {peer_blas_text(t.get('blas'))}", gemm_cell, f"{denormals_text(match)} / {denormals_text(t)}"]
        if t["point"]["measure"] == "throughput":
            row, ratio = throughput_row(match, t, share, cells)
            rows_throughput.append(row)
            speed[t["point"]["algorithm"]].append((ratio, share))
        else:
            row, per_epoch, gaps = convergence_row(match, t, share, cells)
            rows_convergence.append(row)
            for mode, gap in gaps:
                accuracy_gaps[(t["point"]["algorithm"], mode)].append(gap)
            speed[t["point"]["algorithm"] + " (per epoch)"].append((per_epoch, share))
    return rows_throughput, rows_convergence, accuracy_gaps, speed


def gemm_cells(run, match, t):
    """The peer's GEMM share of oneDNN's on the same shapes, and the table cell of both rates."""
    ceiling_point = match if match.get("roofline") else throughput_twin(run.ok, match)
    ceiling = (ceiling_point or {}).get("roofline")
    peer_gemm = t.get("gemm") or (throughput_twin(run.peers, t) or {}).get("gemm")
    share, note = gemm_share(ceiling, peer_gemm)
    gemm_cell = (f"{fmt_num(plain_rate(ceiling)) if ceiling else 'not recorded'} / "
                 f"{fmt_num(peer_gemm['gflops']) if peer_gemm and peer_gemm.get('gflops') else 'not recorded'}")
    if peer_gemm and not t.get("gemm"):
        note = ", ".join(filter(None, [note, "PyTorch's from its throughput point"]))
    if share is not None:
        gemm_cell += f" ({100 * share:.0f} %{', ' + note if note else ''})"
    return share, gemm_cell


def throughput_row(match, t, share, cells):
    q = t["point"]
    ratio = match["train"]["samples_per_s_median"] / t["train"]["samples_per_s_median"]
    inference = ", ".join(f"{m}: {match['inference'][m]['samples_per_s_median'] / v['samples_per_s_median']:.1f}x"
                          for m, v in t.get("inference", {}).items() if m in match.get("inference", {}))
    row = [q["algorithm"], t["model"], q["batch"], q["threads"],
           fmt_num(match["train"]["samples_per_s_median"]), fmt_num(t["train"]["samples_per_s_median"]),
           peer_marked(f"{ratio:.2f}x", share), peer_marked(inference, share) if inference else ""] + cells + [
           f"{match['memory']['peak_rss'] / MiB:.0f} / {t['memory']['peak_rss'] / MiB:.0f}"]
    return row, ratio


def convergence_row(match, t, share, cells):
    e_ours, e_theirs = match["epochs"][-1], t["epochs"][-1]
    per_epoch = (e_theirs["train_seconds"] / e_theirs["epoch"]) / (e_ours["train_seconds"] / e_ours["epoch"])
    texts, gaps = [], []
    for m, acc in e_theirs["test_accuracy"].items():
        if m in e_ours.get("test_accuracy", {}):
            gap = 100 * (e_ours["test_accuracy"][m] - acc)
            texts.append(f"{m}: {100 * e_ours['test_accuracy'][m]:.2f}% vs {100 * acc:.2f}% ({gap:+.2f})")
            gaps.append((m, gap))
    row = [t["point"]["algorithm"], t["model"], t["point"]["seed"], e_ours["epoch"],
           f"{e_ours['train_seconds'] / e_ours['epoch']:.2f}", f"{e_theirs['train_seconds'] / e_theirs['epoch']:.2f}",
           peer_marked(f"{per_epoch:.2f}x", share), "; ".join(texts)] + cells + [
           f"{match['memory']['peak_rss'] / MiB:.0f} / {t['memory']['peak_rss'] / MiB:.0f}"]
    return row, per_epoch, gaps


def peers_intro(run):
    blas_lines = sorted({f"{t['blas'].get('library')} '{t['blas'].get('corename')}' ({t['blas'].get('why')})"
                         if isinstance(t.get("blas"), dict) else peer_blas_text(t.get("blas")) for t in run.peers})
    return ["## Side by side with PyTorch", "",
            f"The PyTorch peers (scripts/peers/torch_peer.py, torch {run.peers[0].get('torch_version')}) run the same "
            "configurations in the same run on the same machine and thread count; thread pools: "
            f"`{run.peers[0].get('thread_pools')}`. Ratios are ffbench over PyTorch (above 1: ffbench faster).", "",
            "Beside each ratio, each side's f32 matrix-multiply engine and kernel, and its GEMM rate in GFLOP/s on the "
            "matmul shapes of one ffbench training step of that configuration: oneDNN's plain-layout GEMM from "
            "ffbench's ceiling (its throughput point; the ceiling's blocked layouts are left out, as a BLAS has none), "
            "and `torch.mm` on the same shapes timed the same way by the peer in the same run "
            "(the percentage is PyTorch's rate over oneDNN's). A ratio whose peer GEMM rate is under "
            f"{100 * PEER_GEMM_FAIR:.0f} % of oneDNN's is marked *peer handicapped*: it measures the BLAS "
            "more than the framework. 'not recorded': a result file from before these fields existed.", "",
            "PyTorch's BLAS in this run: " + "; ".join(blas_lines) + ".", ""]


def peer_findings(speed, accuracy_gaps):
    findings = []
    for name, pairs in sorted(speed.items()):
        fair = [r for r, share in pairs if share is not None and share >= PEER_GEMM_FAIR]
        handicapped = [(r, share) for r, share in pairs if share is not None and share < PEER_GEMM_FAIR]
        unknown = [r for r, share in pairs if share is None]
        if fair:
            findings.append(f"ffbench {name} is {med(fair):.2f}x as fast as the same configuration in PyTorch "
                            f"(median of {len(fair)} pairing{'s' if len(fair) > 1 else ''} whose PyTorch GEMM ran at {PEER_GEMM_FAIR * 100:.0f} % "
                            "or more of oneDNN's rate on the same shapes).")
        if handicapped:
            findings.append(f"ffbench {name} measured {med([r for r, _ in handicapped]):.2f}x PyTorch's speed, but the "
                            f"peer was handicapped: its BLAS ran at {100 * med([s for _, s in handicapped]):.0f} % of oneDNN's "
                            f"GEMM rate on the same shapes (median of {len(handicapped)} pairing{'s' if len(handicapped) > 1 else ''}), so this is largely a BLAS "
                            "gap, not a framework's.")
        if unknown:
            findings.append(f"ffbench {name} is {med(unknown):.2f}x as fast as the same configuration in PyTorch "
                            f"(median of {len(unknown)} pairing{'s' if len(unknown) > 1 else ''}; PyTorch's GEMM rate not recorded, so a handicapped BLAS "
                            "is not ruled out).")
    for (algorithm, mode), gaps in sorted(accuracy_gaps.items()):
        findings.append(f"After the same epochs, ffbench {algorithm} ({mode}) is {med(gaps):+.2f} points of test "
                        f"accuracy from PyTorch's (median over seeds).")
    return findings
