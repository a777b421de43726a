"""Transfer by regime (MT-ML / MT-CL / CT-ML / CT-CL) of one model or of `external` results.

regimes.csv: one row per model x regime (plus `transfer` = MT-CL + CT-ML + CT-CL): n_pairs,
mean_delta (points), share_positive / share_harm (fractions; thresholds in
`analysis.common`), each with a 95% bootstrap interval (`*_ci_low`, `*_ci_high`),
median_delta, std_delta, direct (MT-ML row) and `resampling` (what the bootstrap
resampled). MT-ML rows hold the direct and variant-of-parent cells; transfer regimes hold
transfer pairs only (`pairs.is_transfer`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis.common import is_harm, is_positive, percentile_interval
from transfer_atlas.analysis.transfer_roles.external import external_pairs
from transfer_atlas.analysis.transfer_roles.pairs import REGIMES, is_transfer, pairs_from_cells

PAIRS_RESAMPLING = "pairs resampled with replacement"


def bootstrap_stats(delta: np.ndarray, settings: dict, seed: int) -> dict[str, float]:
    """Mean Δ (points), shares positive / harmed (fractions), each with a bootstrap 95% interval."""
    delta = np.asarray(delta, dtype=float)
    stats = {"n_pairs": len(delta)}
    funcs = {
        "mean_delta": lambda d: d.mean(-1),
        "share_positive": lambda d: is_positive(d, settings).mean(-1),
        "share_harm": lambda d: is_harm(d, settings).mean(-1),
    }
    n_boot = settings["bootstrap"]
    rng = np.random.default_rng(seed)
    resampled = delta[rng.integers(0, len(delta), (n_boot, len(delta)))] if n_boot and len(delta) else None
    for name, f in funcs.items():
        stats[name] = float(f(delta)) if len(delta) else np.nan
        lo, hi = percentile_interval(f(resampled)) if resampled is not None else (np.nan, np.nan)
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
    """One row per model x regime (plus `transfer` = MT-CL + CT-ML + CT-CL) and, with several
    models, the same rows for model `all` (every pair of every model pooled)."""
    groups = [(m, g) for m, g in pairs.groupby("model", sort=False)]
    if len(groups) > 1:
        groups.append(("all", pairs))
    rows = []
    for model, frame in groups:
        for name in (*REGIMES, "transfer"):
            sel = regime_selection(frame, name)
            rows.append(
                {
                    "model": model,
                    "regime": name,
                    "direct": name == "MT-ML",
                    **bootstrap_stats(frame.loc[sel, "delta"].to_numpy(), settings, seed),
                    "resampling": PAIRS_RESAMPLING,
                }
            )
    return pd.DataFrame(rows)


def run(cells_or_table: str, model: str, roles: dict, settings: dict, seed: int, out: dict) -> pd.DataFrame:
    """Write pairs.csv, regimes.csv and regimes.png of one model (or of `external` results)."""
    from transfer_atlas.analysis.transfer_roles.figures import regime_figure

    if model == "external":
        pairs = external_pairs(cells_or_table, settings)
    else:
        pairs = pairs_from_cells(pd.read_csv(cells_or_table), roles, model)
    summary = summarize(pairs, settings, seed)
    io.write_csv(out["pairs"], pairs)
    io.write_csv(out["regimes"], summary)
    io.save_figure(
        out["figure"], regime_figure(summary, f"{model}: transfer by regime (95% bootstrap CI)", settings)
    )
    return summary
