"""A verdict of the answer (reporting/answer.py, reporting/answer_family.py): its words, its line, and
how two sets of measurements are compared.

Every verdict is computed from the run's result files. Its word is one of VERDICT_WORDS; the number
comes with its spread (over seeds, repeats or epochs, said in the line), and a verdict the run cannot
support is withheld as "not enough evidence" with what is missing. Two measurements differ only where
their spreads do not overlap: a ratio's interval runs from the lowest to the highest ratio any two
samples allow, and a verdict is "no difference" when that interval holds 1.
"""
from dataclasses import dataclass, field

from reporting.common import med

SLOWER, FASTER, NO_DIFFERENCE, WITHHELD = "slower", "faster", "no difference", "not enough evidence"
BETTER, WORSE, LESS_ACCURATE, MORE_ACCURATE = "scales better", "scales worse", "less accurate", "more accurate"
VERDICT_WORDS = (SLOWER, FASTER, BETTER, WORSE, LESS_ACCURATE, MORE_ACCURATE, NO_DIFFERENCE, WITHHELD)


@dataclass
class Verdict:
    key: str                 # a stable name of the question, e.g. "epoch_cost" (FINDINGS.md's rows)
    question: str            # the question in a few words
    word: str                # one of VERDICT_WORDS
    text: str                # the rest of the line: the number, its spread, what it is made of
    anchor: str = ""         # the report section with the evidence (a heading's slug)
    value: float = None      # the central number, for tables and tests
    spread: tuple = None     # (low, high) of that number
    facts: dict = field(default_factory=dict)  # what a flip between machines may be explained by

    def line(self):
        link = f" [evidence](#{self.anchor})" if self.anchor else ""
        return f"- **{self.question}: {self.word}.** {self.text}{link}"


def slug(heading):
    """GitHub's anchor of a markdown heading."""
    keep = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return keep.replace(" ", "-")


def ratio_interval(numerators, denominators):
    """median(numerators) / median(denominators), and the lowest and highest ratio of any two samples."""
    return (med(numerators) / med(denominators), min(numerators) / max(denominators),
            max(numerators) / min(denominators))


def compare(low, high, above, below):
    """The word for a ratio whose interval is [low, high]: `above` past 1, `below` under 1, else none."""
    if low > 1.0:
        return above
    if high < 1.0:
        return below
    return NO_DIFFERENCE


def accuracy_word(mine, theirs):
    """Less or more accurate where the two sets of accuracies do not overlap, else no difference."""
    if max(mine) < min(theirs):
        return LESS_ACCURATE
    return MORE_ACCURATE if min(mine) > max(theirs) else NO_DIFFERENCE


def spread_text(low, high, what, digits=2):
    return f"{low:.{digits}f}-{high:.{digits}f}x over {what}"


def label_points(points, label, measure=None):
    return [p for p in points if p["point"]["label"] == label and (measure is None or p["point"]["measure"] == measure)]


def single_process(points):
    return [p for p in points if p["point"].get("distributed", "none") == "none" and not p["point"].get("link")]


def best_mode(points):
    """The prediction mode with the best median final accuracy (the one the algorithm is judged by)."""
    modes = sorted({m for p in points for m in (p.get("final_accuracy") or {})})
    if not modes:
        return None
    return max(modes, key=lambda m: med([(p.get("final_accuracy") or {}).get(m) for p in points]) or 0.0)


def rates(point):
    train = point.get("train") or {}
    return train.get("samples_per_s") or [train.get("samples_per_s_median")]
