#!/usr/bin/python3
"""Make REPORT.md and PNG plots for an ffbench run folder.

Reads only the run's result files (manifest.json, points/*.json) and writes RUN/REPORT.md and
RUN/plots/*.png. Every number in the report is computed here from those files.

Usage: /usr/bin/python3 scripts/report.py RUN_FOLDER [--out FOLDER] [--check]
Needs matplotlib (Debian: python3-matplotlib, installed by scripts/setup.sh).
"""
import argparse
import os
import sys

# The report's parts are the package scripts/reporting/ (Python puts this file's folder on its path).
from reporting import answer_figure
from reporting.answer import answer_lines, verdicts
from reporting.convergence import convergence_section, lead_findings
from reporting.distributed import distributed_section
from reporting.drift import drift_section
from reporting.family import family_section
from reporting.header import machine_section, suite_section, title_lines
from reporting.network import network_section
from reporting.peers import peers_section
from reporting.reproduce import published_section, reference_section, reproduction_section
from reporting.run import fractions_over_one, load
from reporting.speed import roofline_section, throughput_section
from reporting.targets import targets_section
from reporting.tune import tune_section

# The sections after the findings, in the report's order: each a function of the Run returning its
# lines (and recording its findings in run.findings).
SECTIONS = [
    reproduction_section,   # published setups, reproduced
    reference_section,      # the PyTorch reference's published setup, in both engines
    targets_section,        # performance targets, each with its measured figure
    tune_section,           # equal-budget tuning
    convergence_section,    # accuracy curves and time to target, per experiment
    throughput_section,     # throughput sweeps, memory, threads, inference, the pipelined schedule
    family_section,         # every algorithm side by side
    roofline_section,       # the roofline fraction per algorithm
    peers_section,          # side by side with PyTorch
    drift_section,          # throughput through training, denormals
    distributed_section,    # past one machine: MPI ranks and the scaling model
    network_section,        # over emulated network links
    published_section,      # published figures beside ours
]


def findings_lines(findings):
    """What the sections found, the time-to-accuracy findings first."""
    lines = ["## FF's speed and scalability limits", "", "Each sentence is computed from this run's result files.", ""]
    lines += [f"- {f}" for f in findings] or ["- (this run has no points from which to compute findings)"]
    return lines + [""]


def write_report(run):
    """Writes REPORT.md: the title, the answer (its verdicts and figure), the machine, the suite, the
    findings, then every section in order. Returns its path."""
    body = [line for section in SECTIONS for line in section(run)]
    found = verdicts(run)
    answer = answer_lines(found, answer_figure.draw(run, found))
    lines = (title_lines(run) + answer + machine_section(run) + suite_section(run)
             + findings_lines(lead_findings(run) + run.findings) + body)
    path = os.path.join(run.out, "REPORT.md")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run folder made by 'ffbench run' (reports/runs/<time>-<revision>)")
    parser.add_argument("--out", help="where to write REPORT.md and plots/ (default: the run folder)")
    parser.add_argument("--check", action="store_true",
                        help="only check the run's data: exit 1 when any efficiency exceeds 100 %% of its ceiling")
    args = parser.parse_args()
    if not os.path.isdir(args.run):
        sys.exit(f"report.py: {args.run} is not a folder; give a run folder under reports/runs/")
    if args.check:
        run = load(args.run, args.out or os.path.join("/tmp", "ffbench-report-check"))
        over = fractions_over_one(run)
        for point, what, fraction in over:
            print(f"report.py: {point}: {what} at {100 * fraction:.1f}% of its ceiling (a ceiling cannot be exceeded: a bug)")
        print(f"report.py: {len(run.ok)} points checked, {len(over)} efficiencies above 100%")
        sys.exit(1 if over else 0)
    run = load(args.run, args.out or args.run)
    os.makedirs(run.out, exist_ok=True)
    path = write_report(run)
    print(f"report.py: wrote {path} with {len(run.plots)} plots")


if __name__ == "__main__":
    main()
