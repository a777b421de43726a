"""Dataset variants as config: subsample, balance, class ratio, mislabel.

All functions are pure: they take raw rows (dicts with a `label` for classification) and a
`random.Random`, and return new rows in their original relative order.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict


def subsample(rows: list[dict], n: int, rng: random.Random) -> list[dict]:
    """At most `n` rows, drawn without replacement, original order kept."""
    if n >= len(rows):
        return list(rows)
    keep = sorted(rng.sample(range(len(rows)), n))
    return [rows[i] for i in keep]


def _by_label(rows: list[dict]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[str(row["label"])].append(i)
    return groups


def class_ratio(rows: list[dict], weights: dict[str, float], rng: random.Random) -> list[dict]:
    """Largest subsample whose label counts follow `weights` (labels with weight 0 dropped)."""
    groups = _by_label(rows)
    total_w = sum(weights.values())
    fracs = {label: w / total_w for label, w in weights.items() if w > 0}
    missing = [label for label in fracs if label not in groups]
    if missing:
        raise ValueError(f"class_ratio names label(s) {missing} absent from the data")
    total = min(len(groups[label]) / frac for label, frac in fracs.items())
    keep: list[int] = []
    for label, frac in fracs.items():
        keep += rng.sample(groups[label], int(math.floor(total * frac + 1e-9)))
    return [rows[i] for i in sorted(keep)]


def balance(rows: list[dict], rng: random.Random) -> list[dict]:
    """Downsample every label to the count of the rarest label."""
    groups = _by_label(rows)
    return class_ratio(rows, {label: 1.0 for label in groups}, rng)


def mislabel(rows: list[dict], labels: list[str], mode: str, rate: float, rng: random.Random) -> list[dict]:
    """Corrupt round(rate * n) labels. flip: next label in `labels` order; random: another label.

    Corrupted rows keep their original label in `meta.original_label`.
    """
    if len(labels) < 2:
        raise ValueError("mislabel needs a task with at least two labels")
    n_bad = round(rate * len(rows))
    bad = set(rng.sample(range(len(rows)), n_bad))
    out = []
    for i, row in enumerate(rows):
        row = dict(row)
        if i in bad:
            old = str(row["label"])
            if mode == "flip":
                new = labels[(labels.index(old) + 1) % len(labels)]
            else:
                new = rng.choice([label for label in labels if label != old])
            row["label"] = new
            row["meta"] = {**row.get("meta", {}), "original_label": old, "mislabeled": True}
        out.append(row)
    return out


def apply_variants(rows: list[dict], spec: dict, labels: list[str], seed: int) -> list[dict]:
    """Apply the variant keys of a dataset spec in a fixed order: cap, balance, ratio, mislabel."""
    rng = random.Random(seed)
    if spec.get("max_examples"):
        rows = subsample(rows, spec["max_examples"], rng)
    if spec.get("balance"):
        rows = balance(rows, rng)
    if spec.get("class_ratio"):
        rows = class_ratio(rows, spec["class_ratio"], rng)
    if spec.get("mislabel"):
        m = spec["mislabel"]
        rows = mislabel(rows, labels, m["mode"], m["rate"], rng)
    return rows
