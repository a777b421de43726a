"""Validation of the predictors, never tuned on the held-out fold.

Schemes (the held-out unit is the `fold` column of the predictions):
  leave-one-source-out  a whole row predicted from the other rows and descriptors only
  leave-one-cell-out    one observed cell hidden, predicted from the rest of the matrix
  leave-one-model-out   a whole model's matrix predicted from the other models' matrices
Intervals (jackknife): the interval of a prediction in fold f is prediction ± the
`level` conformal quantile of |observed − predicted| over the same scheme, model and
predictor in every other fold (leave-one-model-out: the other models' folds), so the
held-out residual never sets its own width.

predictions (long): model, scheme, predictor, baseline, fold, source, target, observed,
predicted, low, high (points).
validation table: model, scheme, predictor, baseline, n_cells, n_folds, mae (points),
mae_ci_low / mae_ci_high (95% bootstrap over folds), rmse, spearman_row (mean Spearman of
predicted vs observed within a source row, rows with >= 3 cells), sign_accuracy (share of
cells where predicted and observed agree on Δ > positive_threshold), coverage (share of
observed values inside the interval), interval_width (mean high − low, points), level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from threadpoolctl import threadpool_limits

from transfer_atlas.analysis.common import is_positive, percentile_interval
from transfer_atlas.analysis.predict.predictors import is_baseline, predict_cell, predict_rows

LOSO, LOCO, LOMO = "leave-one-source-out", "leave-one-cell-out", "leave-one-model-out"
PREDICTION_COLUMNS = [
    "model", "scheme", "predictor", "baseline", "fold", "source", "target",
    "observed", "predicted", "low", "high",
]  # fmt: skip
METRIC_COLUMNS = [
    "model", "scheme", "predictor", "baseline", "n_cells", "n_folds", "mae", "mae_ci_low", "mae_ci_high",
    "rmse", "spearman_row", "sign_accuracy", "coverage", "interval_width", "level",
]  # fmt: skip


def _long(model, scheme, fold, predictor, rows: pd.DataFrame, observed: pd.DataFrame) -> pd.DataFrame:
    pred = rows.rename_axis(index="source", columns="target").stack(future_stack=True).rename("predicted")
    obs = observed.reindex(index=rows.index, columns=rows.columns)
    frame = pred.to_frame().join(obs.rename_axis(index="source", columns="target").stack().rename("observed"))
    frame = frame.dropna(subset=["observed"]).reset_index()
    return frame.assign(model=model, scheme=scheme, predictor=predictor, fold=fold)


def leave_one_source_out(model, matrix, descriptors, similarities, settings) -> pd.DataFrame:
    """Every source's row predicted from the other sources' rows and its descriptors."""
    parts = []
    for source in matrix.index:
        train = matrix.drop(index=source)
        rows = predict_rows(
            train,
            descriptors.loc[train.index],
            descriptors.loc[[source]],
            similarities,
            settings["n_components"],
        )
        for name, frame in rows.items():
            parts.append(_long(model, LOSO, source, name, frame, matrix.loc[[source]]))
    return pd.concat(parts, ignore_index=True)


def leave_one_cell_out(model, matrix, similarities, settings, others=None, seed: int = 0) -> pd.DataFrame:
    """Observed cells (at most settings['max_cells'], drawn at random) each hidden and predicted."""
    cells = matrix.rename_axis(index="source", columns="target").stack().dropna().index.tolist()
    limit = settings["max_cells"]
    if limit and len(cells) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(cells), limit, replace=False))
        cells = [cells[i] for i in keep]
    rows = []
    with threadpool_limits(1):  # many tiny SVDs: threaded BLAS only adds contention
        for source, target in cells:
            rows += _cell_rows(model, matrix, source, target, similarities, settings, others)
    return pd.DataFrame(rows)


def _cell_rows(model, matrix, source, target, similarities, settings, others) -> list[dict]:
    """One row per predictor of the (source, target) cell, hidden from `matrix`."""
    hidden = matrix.copy()
    hidden.loc[source, target] = np.nan
    observed = matrix.loc[source, target]
    return [
        {"model": model, "scheme": LOCO, "predictor": name, "fold": f"{source}->{target}",
         "source": source, "target": target, "observed": observed, "predicted": value}
        for name, value in predict_cell(hidden, source, target, similarities, settings, others).items()
    ]  # fmt: skip


def leave_one_model_out(matrices: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each model's matrix from the others: cross_model = the others' mean at the cell;
    target_mean = the others' mean of the target over all sources."""
    parts = []
    for model, matrix in matrices.items():
        rest = [
            m.reindex(index=matrix.index, columns=matrix.columns) for k, m in matrices.items() if k != model
        ]
        if not rest:
            continue
        mean = sum(m.fillna(0) for m in rest) / sum(m.notna().astype(int) for m in rest).replace(0, np.nan)
        col = pd.DataFrame([mean.mean(axis=0)] * len(mean), index=mean.index)
        parts.append(_long(model, LOMO, model, "cross_model", mean, matrix))
        parts.append(_long(model, LOMO, model, "target_mean", col, matrix))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=PREDICTION_COLUMNS)


def conformal_quantile(residuals: np.ndarray, level: float) -> float:
    """The ceil((n+1) level)/n empirical quantile of |residuals| (inf when too few)."""
    r = np.sort(np.abs(residuals[~np.isnan(residuals)]))
    n = len(r)
    k = int(np.ceil((n + 1) * level))
    return float(r[k - 1]) if n and k <= n else np.inf


def add_intervals(predictions: pd.DataFrame, level: float) -> pd.DataFrame:
    """low/high from the other folds' residuals (see module doc); `baseline` flag."""
    out = predictions.copy()
    out["low"], out["high"] = np.nan, np.nan
    # leave-one-model-out: a model is one fold, so its interval comes from the other models
    pool = out.model.where(out.scheme != LOMO, "")
    for _, group in out.groupby([pool, "scheme", "predictor"], sort=False):
        resid = (group.observed - group.predicted).to_numpy(float)
        folds = group.fold.to_numpy()
        for fold in np.unique(folds):
            q = conformal_quantile(resid[folds != fold], level)
            idx = group.index[folds == fold]
            out.loc[idx, "low"] = out.loc[idx, "predicted"] - q
            out.loc[idx, "high"] = out.loc[idx, "predicted"] + q
    out["baseline"] = out.predictor.map(is_baseline)
    return out[PREDICTION_COLUMNS]


def row_spearman(group: pd.DataFrame) -> float:
    rhos = []
    for _, row in group.groupby("source"):
        if len(row) >= 3 and row.observed.nunique() > 1 and row.predicted.nunique() > 1:
            rhos.append(spearmanr(row.observed, row.predicted).statistic)
    return float(np.mean(rhos)) if rhos else np.nan


def metrics(predictions: pd.DataFrame, settings: dict, level: float, n_boot: int, seed: int) -> pd.DataFrame:
    """The validation table (see module doc), one row per model x scheme x predictor."""
    rows = []
    for (model, scheme, name), g in predictions.groupby(["model", "scheme", "predictor"], sort=False):
        err = (g.predicted - g.observed).abs()
        fold_mae = err.groupby(g.fold).mean().to_numpy()
        fold_n = g.groupby("fold").size().to_numpy()
        boot = _weighted_boot(fold_mae, fold_n, n_boot, seed)
        lo, hi = percentile_interval(boot)
        rows.append(
            {"model": model, "scheme": scheme, "predictor": name, "baseline": is_baseline(name),
             "n_cells": len(g), "n_folds": g.fold.nunique(), "mae": err.mean(), "mae_ci_low": lo,
             "mae_ci_high": hi, "rmse": float(np.sqrt((err**2).mean())), "spearman_row": row_spearman(g),
             "sign_accuracy": float((is_positive(g.predicted, settings) == is_positive(g.observed, settings)).mean()),
             "coverage": float(((g.observed >= g.low) & (g.observed <= g.high)).mean()),
             "interval_width": float((g.high - g.low).replace(np.inf, np.nan).mean()), "level": level}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def _weighted_boot(fold_mae: np.ndarray, fold_n: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap over folds of the cell-weighted MAE."""
    if n_boot == 0 or len(fold_mae) < 2:
        return np.empty(0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(fold_mae), (n_boot, len(fold_mae)))
    return (fold_mae[idx] * fold_n[idx]).sum(1) / fold_n[idx].sum(1)
