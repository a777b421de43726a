"""assemble_matrix: score files -> long table, performance matrix, delta matrix.

Outputs in results/matrix/{model}/ (all values in points, 0-100):
  scores_long.csv  one row per score file: model, adapter (source or `base`), seed (empty
                   for base), target, metric, value, n, ci_low, ci_high, base_value, delta,
                   metric_<name> for every metric of the file, output_tokens_mean, elapsed_s
  cells.csv        one row per (adapter, target): value_mean/std/se, delta_mean/std/se over
                   seeds (std with ddof=1; 0 for one seed), n_seeds
  matrix.csv       rows = base + adapters (config order), columns = targets: mean value
  delta.csv        rows = adapters, columns = targets: mean (adapter - base), in points
  provenance.json  transfer_atlas.provenance.record of this job (settings_sha256 = hash of
                   every cell's hash) and `cells`: [{adapter, seed, target, settings_sha256}]
scores_long.csv also has settings_sha256, the result-settings hash of each score file's
provenance; the seeds of one (model, adapter, target) cell must share it, else DataError
naming the files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_atlas import io, provenance
from transfer_atlas.settings import settings_hash


def long_table(score_files: list[str]) -> pd.DataFrame:
    rows = []
    for path in score_files:
        s = io.read_json(path)
        for key in ("model", "adapter", "target", "metric", "value", "n"):
            if key not in s:
                raise io.DataError(f"{path}: missing field '{key}'")
        row = {
            "model": s["model"],
            "adapter": s["adapter"],
            "seed": s.get("seed"),
            "target": s["target"],
            "metric": s["metric"],
            "value": s["value"],
            "n": s["n"],
            "ci_low": s["ci95"][0],
            "ci_high": s["ci95"][1],
            "output_tokens_mean": s["output_tokens"]["mean"],
            "elapsed_s": s.get("elapsed_s"),
            "settings_sha256": (s.get("provenance") or {}).get("settings_sha256"),
        }
        row.update({f"metric_{k}": v for k, v in s.get("metrics", {}).items()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    check_settings(frame, score_files)
    base = frame[frame.adapter == "base"].set_index(["model", "target"])["value"]
    frame["base_value"] = [base.get((m, t), np.nan) for m, t in zip(frame.model, frame.target)]
    frame["delta"] = frame["value"] - frame["base_value"]
    frame["seed"] = frame["seed"].astype("Int64")
    return frame


def check_settings(frame: pd.DataFrame, score_files: list[str]) -> None:
    """DataError when the score files of one (model, adapter, target) cell (its seeds) were
    made with different result settings, naming the files and their settings hashes."""
    hashes = frame["settings_sha256"].fillna("none (no provenance)")
    for key, index in frame.groupby(["model", "adapter", "target"], sort=False).groups.items():
        if hashes[index].nunique() > 1:
            made = "; ".join(f"{score_files[i]} (settings {hashes[i]})" for i in index)
            raise io.DataError(
                f"cell {'/'.join(map(str, key))}: score files made with different result settings "
                f"cannot be averaged: {made}. Rerun them with one config."
            )


def cell_stats(long: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof=1) and standard error over seeds of each (model, adapter, target)."""

    def agg(group: pd.DataFrame) -> pd.Series:
        n = len(group)
        out = {"n_seeds": n}
        for col in ("value", "delta"):
            std = float(group[col].std(ddof=1)) if n > 1 else 0.0
            out.update({f"{col}_mean": group[col].mean(), f"{col}_std": std, f"{col}_se": std / np.sqrt(n)})
        return pd.Series(out)

    return (
        long.groupby(["model", "adapter", "target"], sort=False)
        .apply(agg, include_groups=False)
        .reset_index()
    )


def pivot(cells: pd.DataFrame, column: str, rows: list[str], targets: list[str]) -> pd.DataFrame:
    table = cells.pivot(index="adapter", columns="target", values=column)
    table = table.reindex(index=[r for r in rows if r in table.index], columns=targets)
    table.index.name = "adapter"
    return table


def assemble(score_files: list[str], adapters: list[str], targets: list[str], out: dict) -> pd.DataFrame:
    """Write scores_long/cells/matrix/delta CSVs and the delta heatmap; returns the delta matrix."""
    from transfer_atlas.plots import heatmap

    long = long_table(score_files)
    cells = cell_stats(long)
    matrix = pivot(cells, "value_mean", ["base"] + adapters, targets)
    delta = pivot(cells, "delta_mean", adapters, targets)
    if matrix.isna().any().any():
        missing = matrix.stack(future_stack=True).loc[lambda s: s.isna()].index.tolist()
        raise io.DataError(f"matrix has missing cells (adapter, target): {missing[:5]}")
    io.write_csv(out["long"], long)
    io.write_csv(out["cells"], cells)
    io.write_csv(out["matrix"], matrix.round(4), index=True)
    io.write_csv(out["delta"], delta.round(4), index=True)
    model = long["model"].iloc[0]
    fig = heatmap(
        delta,
        f"{model}: transfer (adapter − base), points",
        "evaluated on (target)",
        "fine-tuned on (source)",
        "Δ score (points)",
    )
    io.save_figure(out["heatmap"], fig)
    if out.get("provenance"):
        write_provenance(long, out["provenance"])
    return delta


def write_provenance(long: pd.DataFrame, path: str) -> None:
    cells = long[["adapter", "seed", "target", "settings_sha256"]].astype(object)
    cells = cells.where(cells.notna(), None).to_dict("records")
    io.write_json(path, {**provenance.record(settings_hash(cells)), "cells": cells})
