"""The report's parts (scripts/report.py writes REPORT.md from them; scripts/findings.py reads the
answer's verdicts): the run's data, the answer, and one module per group of sections."""
