"""Output-length transfer on generation targets.

Lengths are whitespace-separated words (tokenizer independent, so model outputs, the
source's training targets and the target's reference answers are comparable). For every
(adapter, target): mean lengths and the 1-D Wasserstein distance (in words) of the
adapter's outputs to the base model's outputs, to the source dataset's training targets,
and to the target's reference answers; then the Spearman correlation of each distance
with the Δ score (points) across adapters, per target and pooled.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.stats import spearmanr, wasserstein_distance

from transfer_atlas import io
from transfer_atlas.analysis import inputs

log = logging.getLogger(__name__)
MEASURES = ("w_base", "w_source", "w_reference")


def word_counts(texts) -> np.ndarray:
    return np.array([len(str(t).split()) for t in texts], dtype=float)


def wasserstein(a, b) -> float:
    """1-D earth mover's distance between two samples (same unit as the samples)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(wasserstein_distance(a, b))


def length_row(output, base, source, reference) -> dict:
    """Mean lengths and Wasserstein distances of one adapter's outputs (words)."""
    return {
        "mean_output": float(np.mean(output)),
        "mean_base": float(np.mean(base)),
        "mean_source": float(np.mean(source)) if len(source) else np.nan,
        "mean_reference": float(np.mean(reference)),
        "w_base": wasserstein(output, base),
        "w_source": wasserstein(output, source),
        "w_reference": wasserstein(output, reference),
    }


def correlations(table: pd.DataFrame) -> pd.DataFrame:
    """Spearman rho of each distance with delta across adapters: per target and pooled (`all`)."""
    rows = []
    sub = table[table.source != "base"]
    groups = [(t, g) for t, g in sub.groupby("target", sort=False)] + [("all", sub)]
    for target, group in groups:
        for measure in MEASURES:
            ok = group[[measure, "delta"]].dropna()
            rho, p = (np.nan, np.nan)
            if len(ok) >= 3 and ok[measure].nunique() > 1 and ok["delta"].nunique() > 1:
                res = spearmanr(ok[measure], ok["delta"])
                rho, p = float(res.statistic), float(res.pvalue)
            rows.append({"target": target, "measure": measure, "rho": rho, "p_value": p, "n": len(ok)})
    return pd.DataFrame(rows)


def collect_lengths(
    prediction_paths: list[str], source_paths: dict[str, str], reference_paths: dict[str, str]
):
    """{(source|base, target): output lengths (pooled over seeds), ("source_data", s), ("reference", t)}."""
    lengths: dict[tuple[str, str], np.ndarray] = {}
    for target, paths in inputs.group_by_target(prediction_paths).items():
        pooled: dict[str, list] = {}
        for adapter, path in paths.items():
            outputs = inputs.read_predictions(path, ("id", "output"))["output"]
            pooled.setdefault(inputs.source_of(adapter), []).extend(word_counts(outputs))
        lengths.update({(s, target): np.array(v) for s, v in pooled.items()})
    for source, path in source_paths.items():
        lengths[("source_data", source)] = word_counts(r["target"] for r in io.read_jsonl(path, ("target",)))
    for target, path in reference_paths.items():
        lengths[("reference", target)] = word_counts(r["target"] for r in io.read_jsonl(path, ("target",)))
    return lengths


def length_table(lengths: dict, delta: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    rows = []
    for target in targets:
        for source in ["base", *delta.index]:
            src = np.array([]) if source == "base" else lengths[("source_data", source)]
            row = {
                "source": source,
                "target": target,
                "n_outputs": len(lengths[(source, target)]),
                **length_row(
                    lengths[(source, target)], lengths[("base", target)], src, lengths[("reference", target)]
                ),
            }
            row["delta"] = 0.0 if source == "base" else float(delta.loc[source, target])
            rows.append(row)
    return pd.DataFrame(rows)


def run(
    prediction_paths: list[str],
    source_paths: dict[str, str],
    reference_paths: dict[str, str],
    delta_csv: str,
    model: str,
    out: dict,
) -> pd.DataFrame:
    """Length table, correlations with delta, KDE grid and scatter for the generation targets."""
    from transfer_atlas.analysis import figures

    delta = pd.read_csv(delta_csv, index_col="adapter")
    lengths = collect_lengths(prediction_paths, source_paths, reference_paths)
    table = length_table(lengths, delta, list(reference_paths))
    corr = correlations(table)
    io.write_csv(out["table"], table.round(4))
    io.write_csv(out["correlation"], corr.round(6))
    io.save_figure(out["kde"], figures.length_kdes(lengths, table, model))
    io.save_figure(out["scatter"], figures.length_vs_delta(table, corr, model))
    return table
