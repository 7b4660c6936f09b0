#!/usr/bin/python3
"""The reproduction table's choice among a published figure's variants is made on the validation split:
a variant with the better test error but the worse validation error must not be chosen."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from reporting.reproduce import reproduction_section  # noqa: E402
from reporting.run import Run  # noqa: E402


def point(experiment, seed, test_error, validation_error, published):
    return {"status": "ok", "model": "[784,8]->10", "final_accuracy": {"softmax": 1 - test_error},
            "final_validation_accuracy": {"softmax": 1 - validation_error},
            "point": {"experiment": experiment, "label": "bp", "seed": seed, "measure": "convergence", "engine": "ffbench",
                      "dataset": "mnist", "hidden": [8], "batch": 10, "epochs": 1, "published": published}}


def table_rows(lines):
    """The cells of every markdown table row in the section's lines (headers and separators too)."""
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if line.startswith("| ")]


def main():
    published = [{"test_error": 0.014, "band": 0.015, "source": "paper"}]
    # "lucky": the best test error (inside the band) but the worse validation error; "steady": chosen.
    points = [point("lucky", s, 0.012, 0.020, published) for s in (1, 2, 3)] + \
             [point("steady", s, 0.016, 0.015, published) for s in (1, 2, 3)]
    run = Run({}, points)
    chosen = [row for row in table_rows(reproduction_section(run)) if len(row) == 7 and row[0].startswith("mnist")]
    assert len(chosen) == 1, chosen
    assert chosen[0][3] == "`steady`" and chosen[0][6] == "missed", chosen[0]
    assert any("0 of 1 published figures within their bands" in f for f in run.findings), run.findings
    # Without a validation split for every variant there is no choice (and no claim).
    for p in points[:3]:
        del p["final_validation_accuracy"]
    run = Run({}, points)
    chosen = [row for row in table_rows(reproduction_section(run)) if len(row) == 7 and row[0].startswith("mnist")]
    assert chosen[0][3] == "n/a" and "no validation split" in chosen[0][2], chosen[0]
    print("report_selection_test: ok")


if __name__ == "__main__":
    main()
