"""Scoring of free text for real tasks: a label parsed from a generated answer, ROUGE-L.

`parse_label` returns the label word that occurs first in the text (case-insensitive, as a
whole word: `toxic` does not match inside `non-toxic`), or INVALID when none occurs.
`rouge_l` is the ROUGE-L F1 of whitespace/punctuation tokens, a fraction in [0, 1].
"""

from __future__ import annotations

import re
from collections.abc import Sequence

INVALID = "[invalid]"
_TOKEN = re.compile(r"\w+|[^\w\s]")


def parse_label(text: str, labels: Sequence[str]) -> str:
    """The label whose first whole-word occurrence in `text` comes first (longest on ties)."""
    best: tuple[int, int, str] | None = None
    for label in labels:
        match = re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", text, flags=re.IGNORECASE)
        if match and (best is None or (match.start(), -len(label)) < best[:2]):
            best = (match.start(), -len(label), label)
    return best[2] if best else INVALID


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 (beta = 1) of the token sequences; 0.0 when either is empty."""
    pred, ref = _TOKEN.findall(prediction), _TOKEN.findall(reference)
    if not pred or not ref:
        return 0.0
    lcs = _lcs(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)
