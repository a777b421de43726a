"""Latent traits: PCA of the performance matrix (rows = adapters, columns = targets).

Rows: the adapters of `analysis.pca.rows` (default `main`: sources that are no variant,
as the study's 10 main adapters); values: Δ vs base in points; centring and units:
`fit` (center `adapters`: deviations from the mean adapter; `base`: Δ vs base). Loadings
are the unit-norm principal axes (target x PC); projections (adapter x PC) are the
adapters' trait profiles. Signs are fixed so that the target with the largest |loading|
loads positively. A bootstrap over evaluation examples
(paired: one resample of a target's examples is applied to every adapter and the base)
gives 95% intervals for each explained-variance ratio and loading.

  fit      the maths (fit, alignment, bootstrap, intervals, naming hints)
  figures  scree, loadings, biplot, stability, trait profiles
  run()    what rule `pca` (workflow/scripts/pca.py) calls
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis import inputs
from transfer_atlas.analysis.pca import figures
from transfer_atlas.analysis.pca.fit import (
    PcaResult,
    align,
    bootstrap,
    fit_pca,
    fix_signs,
    hint_label,
    interval_tables,
    naming_hints,
    pc_names,
    resampled_matrices,
    row_set,
    standardize,
    units,
)

__all__ = [
    "PcaResult",
    "align",
    "bootstrap",
    "fit_pca",
    "fix_signs",
    "hint_label",
    "interval_tables",
    "naming_hints",
    "pc_names",
    "resampled_matrices",
    "row_set",
    "run",
    "standardize",
    "units",
]
log = logging.getLogger(__name__)


def run(
    delta_csv: str, prediction_paths: list[str], settings: dict, model: str, out: dict, rows: list[str]
) -> PcaResult:
    """Fit the PCA of the `rows` adapters, bootstrap it over evaluation examples, write tables
    and figures."""
    center, scale = settings["center"], settings["standardize"]
    frame = pd.read_csv(delta_csv, index_col="adapter")
    missing = [r for r in rows if r not in frame.index]
    if missing:
        raise io.DataError(f"{delta_csv}: PCA rows {missing} are not adapters of the matrix")
    matrix = frame.loc[list(rows)]
    if matrix.shape[0] < 2:
        raise io.DataError(f"{delta_csv}: PCA needs at least 2 adapters, found {matrix.shape[0]}")
    result = fit_pca(matrix, scale, center=center)
    tables = {t: inputs.correctness_table(p) for t, p in inputs.group_by_target(prediction_paths).items()}
    tables = {t: tables[t] for t in matrix.columns}
    rng = np.random.default_rng(settings["seed"])
    matrices = resampled_matrices(tables, list(matrix.index), "delta", settings["bootstrap"], rng)
    ratios, loadings = bootstrap(result, matrices, scale, center)
    ev, long = interval_tables(result, ratios, loadings)
    hints = naming_hints(result.loadings, settings["n_top"])
    io.write_csv(out["explained_variance"], ev.round(6))
    io.write_csv(out["loadings"], result.loadings.rename_axis("target").round(6), index=True)
    io.write_csv(out["loading_intervals"], long.round(6))
    io.write_csv(out["projections"], result.projections.rename_axis("adapter").round(6), index=True)
    io.write_json(
        out["naming"],
        {
            "model": model,
            "rows": list(matrix.index),
            "values": "delta",
            "center": center,
            "standardize": scale,
            "bootstrap": settings["bootstrap"],
            "units": units(center, scale, len(matrix)),
            "explained_variance_ratio": result.ratios.round(6).to_dict(),
            "top_targets": hints,
            "labels": {pc: hint_label(h) for pc, h in hints.items()},
        },
    )
    unit = units(center, scale, len(matrix))
    io.save_figure(out["scree"], figures.scree(ev, f"{model}: explained variance of the transfer matrix"))
    io.save_figure(out["loadings_heatmap"], figures.loadings_heatmap(result.loadings, long, model))
    io.save_figure(out["biplot"], figures.biplot(result, hints, model, unit))
    io.save_figure(out["profiles"], figures.profiles_heatmap(result.projections, model, unit))
    io.save_figure(out["stability"], figures.loading_stability(long, model))
    log.info("explained variance: %s", result.ratios.round(3).to_dict())
    return result
