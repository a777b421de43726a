"""Similarity vs transfer: Spearman correlation and a Mantel permutation test.

Pairs are the transfer pairs (`analysis.common`: not the direct cell, not a variant on its
parent) of the delta matrix (sources x targets, points) whose source and target both appear
in the similarity matrix (datasets x datasets). The Mantel test permutes the dataset labels of the similarity matrix (rows and
columns together) and recomputes Spearman's rho over the same pairs; the p-value is the
fraction of permutations with |rho| >= |observed rho| (two-sided) or rho >= observed
(`greater`). With n! <= `permutations` every permutation is enumerated (exact test);
otherwise p = (1 + hits) / (1 + permutations).
"""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

from transfer_atlas import io
from transfer_atlas.analysis.common import DELTA, TRANSFER_PAIR, pair_kind
from transfer_atlas.plots import grid

log = logging.getLogger(__name__)


def offdiag_pairs(sim: pd.DataFrame, delta: pd.DataFrame, roots: dict | None = None) -> pd.DataFrame:
    """source, target, similarity, delta for every transfer pair covered by `sim`."""
    rows = []
    for source in delta.index:
        for target in delta.columns:
            kind = pair_kind(source, target, roots)
            if kind == TRANSFER_PAIR and source in sim.index and target in sim.columns:
                rows.append(
                    {
                        "source": source,
                        "target": target,
                        "similarity": float(sim.loc[source, target]),
                        "delta": float(delta.loc[source, target]),
                    }
                )
    return pd.DataFrame(rows, columns=["source", "target", "similarity", "delta"])


def _rho(x_ranks: np.ndarray, y_ranks: np.ndarray) -> float:
    x = x_ranks - x_ranks.mean()
    y = y_ranks - y_ranks.mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else float("nan")


def _permutations(n: int, count: int, rng: np.random.Generator):
    if math.factorial(n) <= count:
        return list(itertools.permutations(range(n))), True
    return [rng.permutation(n) for _ in range(count)], False


def mantel(
    sim: pd.DataFrame,
    delta: pd.DataFrame,
    permutations: int = 9999,
    seed: int = 0,
    alternative: str = "two-sided",
    roots: dict | None = None,
) -> dict:
    """Spearman rho of similarity vs delta over transfer pairs, with its Mantel p-value."""
    pairs = offdiag_pairs(sim, delta, roots)
    if len(pairs) < 3:
        raise io.DataError(f"similarity vs transfer needs >= 3 transfer pairs, found {len(pairs)}")
    names = list(sim.index)
    si = np.array([names.index(s) for s in pairs.source])
    ti = np.array([names.index(t) for t in pairs.target])
    s = sim.to_numpy(dtype=float)
    y = rankdata(pairs["delta"])
    observed = _rho(rankdata(s[si, ti]), y)
    perms, exact = _permutations(len(names), permutations, np.random.default_rng(seed))
    null = np.array([_rho(rankdata(s[np.asarray(p)[si], np.asarray(p)[ti]]), y) for p in perms])
    if np.isnan(observed):
        p_value = float("nan")
    else:
        stat, ref = (null, observed) if alternative == "greater" else (np.abs(null), abs(observed))
        hits = int(np.sum(stat >= ref - 1e-12))
        p_value = hits / len(perms) if exact else (1 + hits) / (1 + len(perms))
    naive = spearmanr(pairs["similarity"], pairs["delta"])
    return {
        "spearman_rho": observed,
        "spearman_p": float(naive.pvalue),
        "mantel_p": float(p_value),
        "n_pairs": len(pairs),
        "n_datasets": len(names),
        "permutations": len(perms),
        "exact": exact,
        "alternative": alternative,
    }


def run(
    sim_paths: dict[str, str],
    delta_csv: str,
    settings: dict,
    model: str,
    out: dict,
    roots: dict | None = None,
) -> pd.DataFrame:
    """Mantel test of every similarity kind against the delta matrix; writes CSVs and scatter plots."""
    delta = pd.read_csv(delta_csv, index_col="adapter")
    stats, pairs = [], []
    for kind, path in sim_paths.items():
        sim = pd.read_csv(path, index_col="dataset")
        result = mantel(
            sim, delta, settings["permutations"], settings["seed"], settings["alternative"], roots
        )
        stats.append({"model": model, "kind": kind, **result})
        pairs.append(offdiag_pairs(sim, delta, roots).assign(kind=kind))
        log.info("%s: rho=%.3f mantel p=%.4f", kind, result["spearman_rho"], result["mantel_p"])
    stats, pairs = pd.DataFrame(stats), pd.concat(pairs, ignore_index=True)
    io.write_csv(out["stats"], stats.round(6))
    io.write_csv(out["pairs"], pairs.round(6))
    io.save_figure(out["scatter"], similarity_scatter(pairs, stats, model))
    return stats


# --- figures -----------------------------------------------------------------------------------


def extremes(frame: pd.DataFrame, columns: list[str], k: int) -> pd.Index:
    """Index of the rows with the k largest |value| of any of `columns` (the ones worth a label)."""
    keep = set()
    for col in columns:
        keep |= set(frame[col].abs().nlargest(k).index)
    return pd.Index(sorted(keep))


def similarity_scatter(pairs: pd.DataFrame, stats: pd.DataFrame, model: str):
    """One panel per similarity kind: similarity (x) vs transfer delta (y) over source≠target pairs."""
    kinds = list(stats["kind"])
    fig, axes = grid(len(kinds), len(kinds), width=5.2, height=4.4)
    for ax, kind in zip(axes, kinds, strict=True):
        sub = pairs[pairs.kind == kind]
        ax.scatter(sub.similarity, sub.delta, color="#4C72B0", alpha=0.8)
        for _, row in sub.loc[extremes(sub, ["delta", "similarity"], 3)].iterrows():
            ax.annotate(
                f"{row.source}→{row.target}",
                (row.similarity, row.delta),
                fontsize=7,
                textcoords="offset points",
                xytext=(4, 3),
            )
        s = stats.set_index("kind").loc[kind]
        ax.set_title(
            f"{kind}: Spearman ρ = {s.spearman_rho:.2f}, Mantel p = {s.mantel_p:.3f} ({s.n_pairs} pairs)",
            fontsize=10,
        )
        ax.set_xlabel(f"{kind} similarity of source and target (cosine)")
        ax.set_ylabel(DELTA)
        ax.axhline(0, color="grey", lw=0.5)
        ax.margins(0.12)
    fig.suptitle(f"{model}: does dataset similarity explain transfer? (labels: most extreme pairs)")
    fig.tight_layout()
    return fig
