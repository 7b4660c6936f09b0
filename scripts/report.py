#!/usr/bin/python3
"""Make REPORT.md and PNG plots for an ffbench run folder.

Reads only the run's result files (manifest.json, points/*.json, points/*.csv) and writes
RUN/REPORT.md and RUN/plots/*.png. Every number in the report is computed here from those files.

Usage: /usr/bin/python3 scripts/report.py RUN_FOLDER [--out FOLDER]
Needs matplotlib (Debian: python3-matplotlib, installed by scripts/setup.sh).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reporting import answer as report_answer  # noqa: E402  (the verdicts that open the report)
from reporting import answer_figure as report_answer_figure  # noqa: E402  (their headline figure)
from reporting import distributed as report_distributed  # noqa: E402  (the "Past one machine" section)
from reporting import network as report_network  # noqa: E402  (the "Over a network" section)
from reporting import family as report_family  # noqa: E402  (the "The algorithm family" section)
from reporting.common import ReportBase  # noqa: E402
from reporting.convergence import ConvergenceSections  # noqa: E402
from reporting.peers import PeerSections  # noqa: E402
from reporting.reproduce import ReproduceSections  # noqa: E402
from reporting.speed import SpeedSections  # noqa: E402


class Report(ReportBase, ConvergenceSections, SpeedSections, PeerSections, ReproduceSections):
    def write(self):
        self.header()
        self.reproduction_section()
        self.reference_section()
        self.targets_section()
        self.tune_section()
        self.convergence()
        self.throughput()
        report_family.section(self)
        self.roofline_plot()
        self.peers_section()
        self.drift_section()
        report_distributed.section(self)
        report_network.section(self)
        self.published()
        self.lead_time_to_accuracy()
        findings = ["## FF's speed and scalability limits", "",
                    "Each sentence is computed from this run's result files.", ""]
        findings += [f"- {f}" for f in self.lead_findings + self.findings] or \
            ["- (this run has no points from which to compute findings)"]
        # Findings go right after the suite section so a reader sees them first.
        index = next((i for i, line in enumerate(self.lines) if line.startswith("## ") and "Suite" not in line
                      and "Machine" not in line), len(self.lines))
        self.lines[index:index] = findings + [""]
        # The answer opens the report, right under its title, before the machine table.
        found = report_answer.verdicts(self)
        figure = report_answer_figure.draw(self, found)
        self.lines[4:4] = report_answer.answer_lines(self, found, figure)
        path = os.path.join(self.out, "REPORT.md")
        with open(path + ".tmp", "w") as f:
            f.write("\n".join(self.lines) + "\n")
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
        report = Report(args.run, args.out or os.path.join("/tmp", "ffbench-report-check"))
        over = report.fractions_over_one()
        for point, what, fraction in over:
            print(f"report.py: {point}: {what} at {100 * fraction:.1f}% of its ceiling (a ceiling cannot be exceeded: a bug)")
        print(f"report.py: {len(report.ok)} points checked, {len(over)} efficiencies above 100%")
        sys.exit(1 if over else 0)
    report = Report(args.run, args.out or args.run)
    path = report.write()
    print(f"report.py: wrote {path} with {len(report.plots)} plots")


if __name__ == "__main__":
    main()
