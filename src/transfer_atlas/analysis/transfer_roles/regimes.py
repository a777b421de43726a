"""Transfer by regime (MT-ML / MT-CL / CT-ML / CT-CL) of one model or of `external` results.

regimes.csv: one row per model x regime (plus `transfer` = MT-CL + CT-ML + CT-CL): n_pairs,
mean_delta (points), share_positive / share_harm (fractions; thresholds in
`analysis.common`), each with a 95% interval (`*_ci_low`, `*_ci_high`) from a crossed
bootstrap of that model's pairs (source and target datasets resampled, `resampling`
column), median_delta, std_delta, direct (MT-ML row). MT-ML rows hold the direct and
variant-of-parent cells; transfer regimes hold transfer pairs only (`pairs.is_transfer`).
With several models, rows of model `mean over models` give the mean of the per-model
values, `se_across_models` (std across models / sqrt(n_models)) and n_models; pairs of
different models are never pooled (and an external table is never mixed with our models:
each pairs table is summarised on its own).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis.common import (
    CROSSED,
    crossed_weights,
    is_harm,
    is_positive,
    percentile_interval,
    weighted_means,
)
from transfer_atlas.analysis.transfer_roles.external import external_pairs
from transfer_atlas.analysis.transfer_roles.pairs import REGIMES, is_transfer, pairs_from_cells

MEAN_OVER_MODELS = "mean over models"
STATS = ("mean_delta", "share_positive", "share_harm")


def regime_stats(delta: np.ndarray, weights: np.ndarray, settings: dict) -> dict[str, float]:
    """Mean Δ (points), shares positive / harmed (fractions) of the selected pairs, each with
    a 95% interval from `weights` (replicates x selected pairs, a crossed bootstrap)."""
    delta = np.asarray(delta, dtype=float)
    values = {
        "mean_delta": delta,
        "share_positive": is_positive(delta, settings).astype(float),
        "share_harm": is_harm(delta, settings).astype(float),
    }
    stats: dict[str, float] = {"n_pairs": len(delta)}
    for name, v in values.items():
        stats[name] = float(v.mean()) if len(v) else np.nan
        lo, hi = percentile_interval(weighted_means(weights, v)) if len(weights) else (np.nan, np.nan)
        stats.update({f"{name}_ci_low": lo, f"{name}_ci_high": hi})
    stats.update(
        median_delta=float(np.median(delta)) if len(delta) else np.nan,
        std_delta=float(delta.std(ddof=1)) if len(delta) > 1 else np.nan,
    )
    return stats


def regime_selection(frame: pd.DataFrame, name: str) -> pd.Series:
    """Rows of regime `name` (`transfer` = the three transfer regimes), transfer pairs only
    except for MT-ML, which holds the direct and variant-of-parent cells."""
    if name == "MT-ML":
        return frame["regime"] == "MT-ML"
    keep = is_transfer(frame)
    return keep if name == "transfer" else keep & (frame["regime"] == name)


def summarize(pairs: pd.DataFrame, settings: dict, seed: int = 0) -> pd.DataFrame:
    """One row per model x regime (plus `transfer` = MT-CL + CT-ML + CT-CL), crossed bootstrap
    intervals per model; with several models, `mean over models` rows (see module docstring)."""
    rows = []
    rng = np.random.default_rng(seed)
    for model, frame in pairs.groupby("model", sort=False):
        weights = crossed_weights(frame["source"], frame["target"], settings["bootstrap"], rng)
        for name in (*REGIMES, "transfer"):
            sel = regime_selection(frame, name).to_numpy()
            stats = regime_stats(frame["delta"].to_numpy()[sel], weights[:, sel], settings)
            rows.append(
                {"model": model, "regime": name, "direct": name == "MT-ML", **stats, "resampling": CROSSED}
            )
    out = pd.DataFrame(rows)
    if out["model"].nunique() > 1:
        out = pd.concat([out, across_models(out)], ignore_index=True)
    return out


def across_models(per_model: pd.DataFrame) -> pd.DataFrame:
    """Per regime: mean of the per-model values, SE across models (std ddof=1 / sqrt(n))."""
    rows = []
    for regime, frame in per_model.groupby("regime", sort=False):
        row = {"model": MEAN_OVER_MODELS, "regime": regime, "direct": regime == "MT-ML"}
        row["n_pairs"] = int(frame["n_pairs"].sum())
        for name in STATS:
            values = frame[name].dropna()
            row[name] = float(values.mean()) if len(values) else np.nan
            se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
            row[f"{name}_se_across_models"] = float(se)
        row["n_models"] = int(frame[STATS[0]].notna().sum())
        row["resampling"] = "none: SE across models"
        rows.append(row)
    return pd.DataFrame(rows)


def run(
    cells_or_table: str,
    model: str,
    roles: dict,
    settings: dict,
    seed: int,
    out: dict,
    meta: dict | None = None,
) -> pd.DataFrame:
    """Write pairs.csv, regimes.csv and regimes.png of one model (or of `external` results);
    `meta` = the model's {"family", "size"}."""
    from transfer_atlas.analysis.transfer_roles.figures import regime_figure

    if model == "external":
        pairs = external_pairs(cells_or_table, settings)
    else:
        pairs = pairs_from_cells(pd.read_csv(cells_or_table), roles, model, meta)
    summary = summarize(pairs, settings, seed)
    io.write_csv(out["pairs"], pairs)
    io.write_csv(out["regimes"], summary)
    io.save_figure(
        out["figure"], regime_figure(summary, f"{model}: transfer by regime (95% bootstrap CI)", settings)
    )
    return summary
