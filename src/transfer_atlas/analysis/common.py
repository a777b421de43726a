"""What every analysis shares: the Δ label, thresholds, pair kinds and the bootstrap interval.

Units: Δ = adapter score minus base score, in points (pp) of the target's primary metric.

Thresholds (the Donors and Recipients study's criteria; the values come from config
`analysis.transfer_roles`): a pair is *positive* when Δ > positive_threshold and *harmed*
when Δ <= -harm_threshold.

Pair kinds: every (source, target) pair of datasets is exactly one of
  direct             the source is the target (the adapter's own cell)
  variant-of-parent  source and target are different datasets over the same underlying data:
                     one is a config variant (`variant_of`) of the other, or both are variants
                     of one root (e.g. `sentiment2_mislabeled -> sentiment2`, `amazon@balanced
                     -> amazon`); evaluated on its own inputs, not a transfer
  transfer           source and target have different roots
Only `transfer` pairs enter transfer statistics (summary, Mantel, length, regimes, donors,
asymmetry, ...). The root of a dataset is the end of its `variant_of` chain (itself when
it is no variant); `roots` maps every dataset name to its root.

Interval: `percentile_interval` is the one bootstrap-interval helper (percentile method).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

DELTA = "Δ vs base (points)"
DIRECT, VARIANT, TRANSFER_PAIR = "direct", "variant-of-parent", "transfer"
PAIR_KINDS = (DIRECT, VARIANT, TRANSFER_PAIR)
LEVEL = 0.95


def percentile_interval(samples, level: float = LEVEL, axis: int = 0) -> tuple:
    """(low, high) percentile interval of bootstrap `samples` along `axis`, NaNs ignored.

    For a 1-D sample returns two floats; otherwise two arrays. Empty samples give NaNs.
    """
    samples = np.asarray(samples, dtype=float)
    q = [50 * (1 - level), 50 * (1 + level)]
    if samples.size == 0 or np.all(np.isnan(samples)):
        shape = np.delete(samples.shape, axis) if samples.ndim > 1 else ()
        nan = np.full(shape, np.nan) if len(shape) else np.nan
        return nan, nan
    lo, hi = np.nanpercentile(samples, q, axis=axis)
    if np.ndim(lo) == 0:
        return float(lo), float(hi)
    return lo, hi


def bootstrap_mean(values, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """`n_boot` means of `values` resampled with replacement (empty when n_boot or values is 0)."""
    values = np.asarray(values, dtype=float)
    if n_boot == 0 or len(values) == 0:
        return np.empty(0)
    return values[rng.integers(0, len(values), (n_boot, len(values)))].mean(axis=1)


def is_positive(delta, settings: Mapping) -> np.ndarray:
    """Δ > positive_threshold (points), elementwise."""
    return np.asarray(delta, dtype=float) > settings["positive_threshold"]


def is_harm(delta, settings: Mapping) -> np.ndarray:
    """Δ <= -harm_threshold (points), elementwise."""
    return np.asarray(delta, dtype=float) <= -settings["harm_threshold"]


# --- pair kinds ------------------------------------------------------------------------------


def dataset_roots(datasets: Mapping[str, Mapping]) -> dict[str, str]:
    """{dataset: root dataset} from resolved dataset specs (`parent` = direct parent)."""
    roots = {}
    for name in datasets:
        root, seen = name, {name}
        while datasets[root].get("parent") and datasets[root]["parent"] in datasets:
            root = datasets[root]["parent"]
            if root in seen:
                break
            seen.add(root)
        roots[name] = root
    return roots


def strip_seed(adapter: str) -> str:
    """`{source}/seed{n}` -> `{source}`; other names unchanged."""
    return adapter.split("/seed")[0] if "/seed" in adapter else adapter


def pair_kind(source: str, target: str, roots: Mapping[str, str] | None = None) -> str:
    """direct, variant-of-parent or transfer (datasets missing from `roots` are their own root)."""
    source = strip_seed(source)
    if source == target:
        return DIRECT
    roots = roots or {}
    return VARIANT if roots.get(source, source) == roots.get(target, target) else TRANSFER_PAIR


def pair_kinds(sources, targets, roots: Mapping[str, str] | None = None) -> np.ndarray:
    """pair_kind of each (source, target) of two aligned sequences."""
    return np.array([pair_kind(s, t, roots) for s, t in zip(sources, targets, strict=True)], dtype=object)


def transfer_mask(frame: pd.DataFrame, roots: Mapping[str, str] | None, source="source", target="target"):
    """Boolean Series: rows of `frame` whose (source, target) is a transfer pair."""
    kinds = pair_kinds(frame[source].astype(str), frame[target].astype(str), roots)
    return pd.Series(kinds == TRANSFER_PAIR, index=frame.index)


def long_delta(delta: pd.DataFrame) -> pd.DataFrame:
    """delta.csv (adapters x targets, index `adapter`, no base row) as long (source, target, delta)."""
    delta = delta.drop(index="base", errors="ignore")
    long = delta.rename_axis(index="source", columns="target").stack().rename("delta").reset_index()
    return long.astype({"source": str, "target": str})


def transfer_pairs(delta: pd.DataFrame, roots: Mapping[str, str] | None) -> pd.DataFrame:
    """The transfer pairs of a delta matrix as long (source, target, delta)."""
    long = long_delta(delta)
    return long[transfer_mask(long, roots)].reset_index(drop=True)


def mask_non_transfer(matrix: pd.DataFrame, roots: Mapping[str, str] | None) -> pd.DataFrame:
    """A sources x targets frame with every non-transfer cell set to NaN."""
    keep = np.array([[pair_kind(s, t, roots) == TRANSFER_PAIR for t in matrix.columns] for s in matrix.index])
    return matrix.where(keep.reshape(matrix.shape) if matrix.size else keep)


# --- crossed bootstrap -----------------------------------------------------------------------

CROSSED = "crossed: sources and targets resampled with replacement (pair weight = product of counts)"


def crossed_weights(sources, targets, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot x n_pairs) weights of a crossed bootstrap: every replicate draws the source
    datasets and the target datasets with replacement, independently; a pair's weight is the
    number of times its source was drawn times the number of times its target was drawn."""
    src_names, src_idx = np.unique(np.asarray(sources, dtype=str), return_inverse=True)
    tgt_names, tgt_idx = np.unique(np.asarray(targets, dtype=str), return_inverse=True)
    if n_boot == 0 or len(src_idx) == 0:
        return np.empty((0, len(src_idx)))
    ws = rng.multinomial(len(src_names), np.full(len(src_names), 1 / len(src_names)), size=n_boot)
    wt = rng.multinomial(len(tgt_names), np.full(len(tgt_names), 1 / len(tgt_names)), size=n_boot)
    return (ws[:, src_idx] * wt[:, tgt_idx]).astype(float)


def weighted_means(weights: np.ndarray, values) -> np.ndarray:
    """Per replicate, the weighted mean of `values` (NaN where a replicate drew no pair)."""
    values = np.asarray(values, dtype=float)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, weights @ values / np.where(total > 0, total, 1), np.nan)
