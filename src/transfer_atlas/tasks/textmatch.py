"""Scoring of free text for real tasks: a label parsed from a generated answer, ROUGE-L.

`parse_label` returns the label word that occurs first in the text (case-insensitive, as a
whole word: `toxic` does not match inside `non-toxic`), or INVALID when none occurs.
`rouge_l` is the ROUGE-L F1 of the `rouge-score` package (its default tokenizer: lower-cased\nASCII letters and digits, no stemming), a fraction in [0, 1].
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

INVALID = "[invalid]"


def parse_label(text: str, labels: Sequence[str]) -> str:
    """The label whose first whole-word occurrence in `text` comes first (longest on ties)."""
    best: tuple[int, int, str] | None = None
    for label in labels:
        match = re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", text, flags=re.IGNORECASE)
        if match and (best is None or (match.start(), -len(label)) < best[:2]):
            best = (match.start(), -len(label), label)
    return best[2] if best else INVALID


@functools.cache
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 of `prediction` against `reference` by the `rouge-score` package (Google's
    reference implementation, as lm-evaluation-harness uses it), a fraction in [0, 1]."""
    return float(_scorer().score(reference, prediction)["rougeL"].fmeasure)
