#!/usr/bin/python3
"""Make reports/FINDINGS.md: every published headline run's answer side by side, a column per machine.

Reads the run folders under reports/published/ (their result files only), computes each run's verdicts
as its REPORT.md does (scripts/reporting/answer.py), and writes one table per question: a row per suite,
a column per machine kind, the verdict and its number in each cell, linking the run's report. A verdict
that differs between machines is named as a flip, with the machine facts the runs measured beside it.
Also rewrites the answer block of README.md (between <!-- answer:begin --> and <!-- answer:end -->)
and draws reports/findings.png.

Usage: /usr/bin/python3 scripts/findings.py [--published DIR] [--out FILE] [--readme FILE] [--no-readme]
"""
import argparse
import os
import sys
import tempfile

# The report's parts are the package scripts/reporting/ (Python puts this file's folder on its path).
from reporting import verdict
from reporting.answer import verdicts
from reporting.common import plt
from reporting.run import load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Zen generations by CPU family (AMD's numbering); runs from before the manifest recorded the family
# are named from their ISA, as the machines seen so far (DEVELOPERS' notes) tell them apart.
AMD_FAMILIES = {23: "Zen 1/2", 25: "Zen 3/4", 26: "Zen 5"}
AMD_MODELS = {(23, 1): "Zen 1", (23, 49): "Zen 2"}
BY_ISA = {("AMD EPYC", "avx2"): "Zen 1", ("AMD EPYC", "avx512_core_bf16"): "Zen 5"}
README_BEGIN, README_END = "<!-- answer:begin -->", "<!-- answer:end -->"
# The questions README.md's answer names, in order.
README_KEYS = ("epoch_cost", "time_to_95", "time_to_97", "depth", "threads", "ranks", "ranks_10gbit", "ranks_1gbit", "staleness",
               "family_accuracy", "family_speed", "pytorch")


def machine_name(manifest):
    """A short name of the machine kind: the CPU (its generation where known), threads and ISA."""
    cpu = (manifest.get("cpu_model") or "?").strip()
    family, model = manifest.get("cpu_family"), manifest.get("cpu_model_number")
    isa = manifest.get("onednn_isa") or "?"
    generation = ""
    if "AMD" in cpu and family not in (None, -1):
        generation = AMD_MODELS.get((family, model), AMD_FAMILIES.get(family, f"family {family}"))
    elif "AMD" in cpu:
        generation = BY_ISA.get((cpu, isa), "")
    elif family not in (None, -1):
        generation = f"family {family} model {model}"
    name = f"{cpu} {generation}".strip() if generation else cpu
    return f"{name}, {manifest.get('hardware_threads')} threads, {isa}"


def short(verdict):
    """The verdict's number in a few characters, for a table cell."""
    if verdict.value is None and verdict.spread and verdict.spread[0]:
        return f"> {verdict.spread[0]:.1f}x"
    if verdict.value is None:
        return ""
    if verdict.key in ("best_accuracy", "family_accuracy", "staleness"):
        name = verdict.facts.get("closest", "")
        return f"{name} {100 * verdict.value:+.2f} pts".strip()
    if verdict.key == "family_speed":
        return f"{verdict.facts.get('fastest', '')} {verdict.value:.2f}x".strip()
    return f"{verdict.value:.2f}x"


def load_runs(published):
    runs = []
    for name in sorted(os.listdir(published)):
        folder = os.path.join(published, name)
        if not os.path.isfile(os.path.join(folder, "manifest.json")) or not os.path.isdir(os.path.join(folder, "points")):
            continue
        with tempfile.TemporaryDirectory() as scratch:
            run = load(folder, scratch)
            found = verdicts(run)
        runs.append({"folder": name, "manifest": run.manifest, "machine": machine_name(run.manifest),
                     "suite": run.manifest.get("suite_name") or "?", "verdicts": {v.key: v for v in found}})
    return runs


def facts_of(run):
    m = run["manifest"]
    return {"ISA": m.get("onednn_isa"), "peak FMA": f"{(m.get('peak_fma') or {}).get('gflops', 0):.0f} GFLOP/s",
            "threads": m.get("hardware_threads")}


def flip_text(cells):
    """'' when the verdicts agree; else which machine says what, and the measured machine facts that differ."""
    words = {machine: (run, v) for machine, (run, v) in cells.items() if v.word != verdict.WITHHELD}
    if len({v.word for _, v in words.values()}) < 2:
        return ""
    said = "; ".join(f"{v.word} on {machine}" for machine, (_, v) in words.items())
    differ = []
    for name in ("ISA", "peak FMA", "threads"):
        values = {str(facts_of(run)[name]) for run, _ in words.values()}
        if len(values) > 1:
            differ.append(f"{name} {' vs '.join(sorted(values))}")
    for key, label in (("machine_thread_efficiency", "the machine's own GEMM thread efficiency"),
                       ("efficiency_ratio", "FF's over BP's fraction of the GEMM ceiling")):
        values = [v.facts[key] for _, v in words.values() if key in v.facts]
        if len(values) > 1 and max(values) - min(values) > 0.05:
            differ.append(f"{label} {' vs '.join(f'{x:.2f}' for x in values)}")
    return f"**Flips**: {said}." + (f" Measured differences between the machines: {'; '.join(differ)}." if differ else "")


def tables(runs, link_prefix):
    machines = []
    for run in runs:
        if run["machine"] not in machines:
            machines.append(run["machine"])
    questions = []
    for run in runs:
        for key, v in run["verdicts"].items():
            if (key, v.question) not in questions:
                questions.append((key, v.question))
    lines, flips, holds = [], [], []
    for key, question in questions:
        suites = sorted({r["suite"] for r in runs if key in r["verdicts"]}, key=lambda s: (s != "quick", s))
        notes = []  # the flips, under the table
        lines += [f"### {question}", "", "| suite | " + " | ".join(machines) + " |", "|---|" + "---|" * len(machines)]
        for suite in suites:
            cells, row = {}, []
            for machine in machines:
                mine = [r for r in runs if r["machine"] == machine and r["suite"] == suite and key in r["verdicts"]]
                if not mine:
                    row.append("-")
                    continue
                run = mine[-1]  # the newest (folders sort by date)
                v = run["verdicts"][key]
                cells[machine] = (run, v)
                anchor = f"#{v.anchor}" if v.anchor else ""
                row.append(f"[{v.word}{', ' + short(v) if short(v) else ''}]({link_prefix}{run['folder']}/REPORT.md{anchor})")
            lines.append(f"| `{suite}` | " + " | ".join(row) + " |")
            flip = flip_text(cells)
            if flip:
                flips.append((question, suite, flip))
                notes.append(f"`{suite}`: {flip}")
            else:
                given = [v.word for _, v in cells.values() if v.word != verdict.WITHHELD]
                if len(given) > 1 and len(set(given)) == 1:
                    holds.append((question, suite, given[0], len(given)))
        lines.append("")
        lines += [f"{note}\n" for note in notes]
    return machines, lines, flips, holds


def findings_figure(runs, machines, path):
    keys = []
    for run in runs:
        for key, v in run["verdicts"].items():
            if (key, v.question) not in keys:
                keys.append((key, v.question))
    colours = {verdict.SLOWER: "#d9534f", verdict.WORSE: "#d9534f", verdict.LESS_ACCURATE: "#d9534f",
               verdict.FASTER: "#5cb85c", verdict.BETTER: "#5cb85c", verdict.MORE_ACCURATE: "#5cb85c",
               verdict.NO_DIFFERENCE: "#f0ad4e", verdict.WITHHELD: "#dddddd"}
    fig, ax = plt.subplots(figsize=(3.2 * len(machines) + 4.5, 0.42 * len(keys) + 1.4))
    for row, (key, _) in enumerate(keys):
        for column, machine in enumerate(machines):
            # A verdict the run could give before one it withheld; the quick run's where there are several.
            mine = [r for r in runs if r["machine"] == machine and key in r["verdicts"]]
            mine.sort(key=lambda r: (r["verdicts"][key].word != verdict.WITHHELD, r["suite"] == "quick", r["folder"]))
            if not mine:
                continue
            v = mine[-1]["verdicts"][key]
            ax.add_patch(plt.Rectangle((column, row), 0.96, 0.9, color=colours.get(v.word, "#dddddd")))
            ax.text(column + 0.48, row + 0.45, f"{v.word} {short(v)}".strip(), ha="center", va="center", fontsize=7)
    ax.set_xlim(0, len(machines))
    ax.set_ylim(len(keys), 0)
    ax.set_xticks([c + 0.48 for c in range(len(machines))])
    ax.set_xticklabels([m.replace(", ", "\n", 1) for m in machines], fontsize=7)
    ax.xaxis.tick_top()
    ax.set_yticks([r + 0.45 for r in range(len(keys))])
    ax.set_yticklabels([q for _, q in keys], fontsize=7)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def readme_answer(runs, machines, flips):
    """A few lines for README.md: each main question's verdict on every machine, flips named."""
    lines = []
    for key in README_KEYS:
        cells = []
        question = None
        for machine in machines:
            mine = [r for r in runs if r["machine"] == machine and key in r["verdicts"]]
            mine.sort(key=lambda r: (r["verdicts"][key].word != verdict.WITHHELD, r["suite"] == "quick", r["folder"]))
            if mine:
                v = mine[-1]["verdicts"][key]
                question = v.question
                if v.word != verdict.WITHHELD:
                    cells.append((machine.split(",")[0], v, mine[-1]["suite"]))
        if not cells:
            continue
        words = {v.word for _, v, _ in cells}
        values = ", ".join(f"{short(v) or v.word} on {m}" for m, v, _ in cells)
        if len(words) == 1:
            lines.append(f"- {question}: **{words.pop()}** ({values}).")
        else:
            # A flip is the same suite's verdict differing between machines; cells from different suites differ otherwise.
            word = "flips" if any(q == question for q, _, _ in flips) else "differs between the suites run"
            lines.append(f"- {question}: **{word}** ({'; '.join(f'{v.word} on {m} (`{r}`)' for m, v, r in cells)}).")
    lines += ["", "![Every verdict on every machine](reports/findings.png)", "",
              f"Computed from the published runs by `scripts/findings.py`; the tables, the numbers with their spreads and "
              f"the flips ({len(flips)}) are in [reports/FINDINGS.md](reports/FINDINGS.md)."]
    return lines


def write_readme(path, lines):
    with open(path) as f:
        text = f.read()
    if README_BEGIN not in text or README_END not in text:
        sys.exit(f"findings.py: {path} has no {README_BEGIN} ... {README_END} block; add one where the answer goes")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    with open(path + ".tmp", "w") as f:
        f.write(head + README_BEGIN + "\n" + "\n".join(lines) + "\n" + README_END + tail)
    os.replace(path + ".tmp", path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--published", default=os.path.join(ROOT, "reports", "published"), help="folder of headline runs")
    parser.add_argument("--out", default=os.path.join(ROOT, "reports", "FINDINGS.md"), help="the page to write")
    parser.add_argument("--readme", default=os.path.join(ROOT, "README.md"), help="README whose answer block is rewritten")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md as it is")
    args = parser.parse_args()
    if not os.path.isdir(args.published):
        sys.exit(f"findings.py: {args.published} is not a folder; give the folder of published runs (reports/published)")
    runs = load_runs(args.published)
    if not runs:
        sys.exit(f"findings.py: no run folder (manifest.json and points/) under {args.published}")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    link_prefix = os.path.relpath(args.published, out_dir) + "/"
    machines, body, flips, holds = tables(runs, link_prefix)
    figure = os.path.join(out_dir, "findings.png")
    findings_figure(runs, machines, figure)
    lines = ["# Findings: every published run side by side", "",
             "Made by `scripts/findings.py` from the result files of the runs under "
             f"[{os.path.relpath(args.published, out_dir)}/]({link_prefix}); each cell is the verdict of that run's "
             "REPORT.md (its first section) and links it. Verdicts: slower / faster / scales better / scales worse / "
             "less or more accurate / no difference (the spreads overlap) / not enough evidence (withheld).", "",
             f"![Every verdict on every machine]({os.path.basename(figure)})", "", "## The machines", ""]
    lines += ["| machine | runs (suite: folder, revision, date) |", "|---|---|"]
    for machine in machines:
        mine = [r for r in runs if r["machine"] == machine]
        lines.append(f"| {machine} | " + "; ".join(
            f"`{r['suite']}`: [{r['folder']}]({link_prefix}{r['folder']}/REPORT.md), "
            f"{(r['manifest'].get('revision') or '?')[:7]}, {(r['manifest'].get('created') or '?')[:10]}" for r in mine) + " |")
    lines += ["", "## What holds on every machine, and what flips", ""]
    lines += [f"- Holds on all {n} machines that measured it: {q} (`{s}`): {w}." for q, s, w, n in holds] or \
             ["- No verdict was measured on more than one machine with the same suite."]
    lines += [f"- Flips: {q} (`{s}`)." for q, s, _ in flips] or ["- No verdict flips between machines."]
    lines += ["", "## Per question", ""] + body
    with open(args.out + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(args.out + ".tmp", args.out)
    if not args.no_readme:
        write_readme(args.readme, readme_answer(runs, machines, flips))
    print(f"findings.py: wrote {args.out} ({len(runs)} runs, {len(machines)} machines, {len(flips)} flips)")


if __name__ == "__main__":
    main()
