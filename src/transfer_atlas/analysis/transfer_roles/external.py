"""Import of external transfer results (the Donors and Recipients release format).

A long table (csv, tsv, parquet or jsonl), one row per (model, fine-tuned cell, evaluated
cell), with columns
  model_name, fine_tuned_dataset, fine_tuned_language, eval_dataset, eval_language,
  score_mean, score_base_mean
and optionally score_norm_mean / score_norm_base_mean (acc_norm), n_seeds,
delta_score_std / delta_score_norm_std (std of Δ over seeds) and model_size (appended to
the model name; model_name is the model family, model_size its size). Rows without a fine-tuned dataset (`n/a`, `base`, empty) are base rows
and are dropped. Scores may be fractions (the release) or points; Δ is reported in points.

`external_pairs` turns it into the pairs table of `transfer_roles.pairs`
(dataset names `{dataset}.{language}`, as `languages:` expansion names them), so every
regime and donor/recipient analysis runs on it unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis.common import pair_kinds
from transfer_atlas.analysis.transfer_roles.pairs import PAIR_COLUMNS, label_regimes

REQUIRED = (
    "model_name",
    "fine_tuned_dataset",
    "fine_tuned_language",
    "eval_dataset",
    "eval_language",
    "score_mean",
    "score_base_mean",
)
METRIC_COLUMNS = {
    "acc": ("score_mean", "score_base_mean", "delta_score_std"),
    "acc_norm": ("score_norm_mean", "score_norm_base_mean", "delta_score_norm_std"),
}
BASE_MARKERS = {"", "n/a", "na", "none", "base", "nan"}


def read_table(path: str | Path) -> pd.DataFrame:
    """The external table; languages and names read as strings."""
    path = Path(path)
    text_cols = REQUIRED[:5]
    if path.suffix == ".parquet":
        return io.require_columns(pd.read_parquet(path), REQUIRED, path)
    if path.suffix in (".jsonl", ".json"):
        table = pd.read_json(path, lines=path.suffix == ".jsonl", dtype=dict.fromkeys(text_cols, str))
        return io.require_columns(table, REQUIRED, path)
    return io.read_csv(path, REQUIRED, text_cols, sep="\t" if path.suffix == ".tsv" else ",")


def pick_metric(table: pd.DataFrame, metric: str) -> str:
    """acc or acc_norm; `auto` = acc_norm when its columns are present."""
    has_norm = all(c in table for c in METRIC_COLUMNS["acc_norm"][:2])
    if metric == "auto":
        return "acc_norm" if has_norm else "acc"
    if metric == "acc_norm" and not has_norm:
        raise io.DataError("external_metric acc_norm needs columns score_norm_mean and score_norm_base_mean")
    return metric


def scale_factor(scores: pd.Series, scale: str) -> float:
    """100 for fractions, 1 for points; `auto` = fractions when every score is in [0, 1]."""
    if scale == "auto":
        return 100.0 if scores.dropna().between(0, 1).all() else 1.0
    return 100.0 if scale == "fraction" else 1.0


def _filtered(table: pd.DataFrame, filters: dict, path: str) -> pd.DataFrame:
    for column, value in (filters or {}).items():
        if column not in table:
            raise io.DataError(f"{path}: external_filter names column '{column}', which is absent")
        table = table[table[column].astype(str) == str(value)]
    is_base = table["fine_tuned_dataset"].fillna("").astype(str).str.strip().str.lower().isin(BASE_MARKERS)
    return table[~is_base].copy()


def external_pairs(path: str | Path, settings: dict) -> pd.DataFrame:
    """Pairs table (see transfer_roles.pairs.PAIR_COLUMNS) of an external results table."""
    table = _filtered(read_table(path), settings.get("external_filter") or {}, str(path))
    if table.empty:
        raise io.DataError(f"{path}: no fine-tuned rows left (after external_filter)")
    metric = pick_metric(table, settings.get("external_metric", "auto"))
    score, base, std = METRIC_COLUMNS[metric]
    factor = scale_factor(pd.concat([table[score], table[base]]), settings.get("external_scale", "auto"))
    model = table["model_name"].astype(str)
    if "model_size" in table:
        model = model + "-" + table["model_size"].astype(str)
    n_seeds = table["n_seeds"] if "n_seeds" in table else pd.Series(np.nan, index=table.index)
    delta_std = factor * table[std] if std in table else pd.Series(np.nan, index=table.index)
    size = (
        table["model_size"].astype(str) if "model_size" in table else pd.Series("unknown", index=table.index)
    )
    pairs = pd.DataFrame(
        {
            "model": model,
            "model_family": table["model_name"].astype(str),
            "model_size": size,
            "source": table["fine_tuned_dataset"] + "." + table["fine_tuned_language"],
            "target": table["eval_dataset"] + "." + table["eval_language"],
            "source_task": table["fine_tuned_dataset"],
            "source_language": table["fine_tuned_language"],
            "target_task": table["eval_dataset"],
            "target_language": table["eval_language"],
            "delta": factor * (table[score] - table[base]),
            "delta_std": delta_std,
            "n_seeds": n_seeds,
            "value": factor * table[score],
            "base_value": factor * table[base],
        }
    )
    pairs["delta_se"] = pairs["delta_std"] / np.sqrt(pairs["n_seeds"])
    dup = pairs.duplicated(["model", "source", "target"], keep=False)
    if dup.any():
        first = pairs.loc[dup, ["model", "source", "target"]].iloc[0].tolist()
        raise io.DataError(
            f"{path}: several rows for (model, source, target) {first}; "
            "select one with analysis.transfer_roles.external_filter (e.g. {rank: 32})"
        )
    pairs["regime"] = label_regimes(pairs)
    pairs["kind"] = pair_kinds(pairs["source"], pairs["target"])
    return pairs[PAIR_COLUMNS].reset_index(drop=True)
