"""Donors and recipients of a task x language transfer grid.

Donor score of a source = mean Δ it gives to the cells it transfers to; recipient score of a
target = mean Δ it receives. Only transfer pairs count (regimes MT-CL, CT-ML, CT-CL): the
direct MT-ML cell (a source evaluated on its own task and language, its "own cell") is
excluded. Scores in points (pp) with a 95% interval (ci_low, ci_high) from a crossed
bootstrap of the model's transfer pairs (source and target datasets resampled; `resampling`
column; cells share sources and targets, so they are not resampled as independent);
shares are fractions of cells with Δ > positive_threshold and Δ <= -harm_threshold. Rank
1 = the largest score, per model. Language and task roles (MT-CL / CT-ML only, across
models): `roles.py`.

Consistency across base models: Spearman rank correlation of the donor (and recipient)
scores of the datasets two models share (at least 3).
"""

from __future__ import annotations

from itertools import combinations

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
from transfer_atlas.analysis.transfer_roles import roles
from transfer_atlas.analysis.transfer_roles.pairs import is_transfer, read_pairs

SIDE = {"donor": "source", "recipient": "target"}


def _aggregate(frame: pd.DataFrame, keys: list[str], settings: dict, seed: int = 0) -> pd.DataFrame:
    grouped = frame.groupby(keys, sort=False)["delta"]
    out = grouped.agg(
        score="mean",
        n_cells="size",
        share_positive=lambda d: is_positive(d, settings).mean(),
        share_harm=lambda d: is_harm(d, settings).mean(),
    ).reset_index()
    rng = np.random.default_rng(seed)
    ci = {}
    for _, part in frame.groupby("model", sort=False):
        weights = crossed_weights(part["source"], part["target"], settings["bootstrap"], rng)
        delta = part["delta"].to_numpy(float)
        labels = list(part[keys].astype(str).itertuples(index=False, name=None))
        for key in dict.fromkeys(labels):
            sel = np.array([lab == key for lab in labels])
            ci[key] = (
                percentile_interval(weighted_means(weights[:, sel], delta[sel]))
                if len(weights)
                else (np.nan,) * 2
            )
    bounds = [ci[k] for k in out[keys].astype(str).itertuples(index=False, name=None)]
    out["ci_low"], out["ci_high"] = [b[0] for b in bounds], [b[1] for b in bounds]
    out["resampling"] = CROSSED
    return out


def role_scores(pairs: pd.DataFrame, role: str, settings: dict, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Donor (role="donor") or recipient scores per model x dataset (x `by` columns), ranked."""
    side = SIDE[role]
    transfer = pairs[is_transfer(pairs)]
    out = _aggregate(transfer, ["model", side, *by], settings).rename(columns={side: "dataset"})
    meta = pairs.drop_duplicates(side).set_index(side)
    out.insert(2, "task", out["dataset"].map(meta[f"{side}_task"]))
    out.insert(3, "language", out["dataset"].map(meta[f"{side}_language"]))
    out.insert(0, "role", role)
    out["rank"] = out.groupby(["model", *by])["score"].rank(ascending=False, method="min").astype(int)
    return out.sort_values(["model", *by, "rank"], kind="stable").reset_index(drop=True)


def roles_by_regime(pairs: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Donor and recipient scores per transfer regime, plus regime `transfer` (all three)."""
    parts = []
    for role in SIDE:
        parts.append(role_scores(pairs, role, settings).assign(regime="transfer"))
        parts.append(role_scores(pairs, role, settings, by=("regime",)))
    return pd.concat(parts, ignore_index=True)


def consistency(scores: pd.DataFrame) -> pd.DataFrame:
    """Spearman rho of the scores of every pair of models, per role (datasets in common)."""
    from scipy.stats import spearmanr

    rows = []
    for role, frame in scores.groupby("role", sort=False):
        table = frame.pivot_table(index="dataset", columns="model", values="score")
        for a, b in combinations(list(dict.fromkeys(frame["model"])), 2):
            both = table[[a, b]].dropna()
            rho, p = spearmanr(both[a], both[b]) if len(both) >= 3 else (np.nan, np.nan)
            rows.append(
                {
                    "role": role,
                    "model_a": a,
                    "model_b": b,
                    "n_datasets": len(both),
                    "spearman_rho": float(rho),
                    "p_value": float(p),
                }
            )
    return pd.DataFrame(rows, columns=["role", "model_a", "model_b", "n_datasets", "spearman_rho", "p_value"])


def run(pairs_csv: str, model: str, settings: dict, out: dict, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Donor/recipient tables, language (MT-CL) and task (CT-ML) roles and heatmaps, and the
    scatter of one model (or of `external`: per model, heatmaps averaged over its models)."""
    from transfer_atlas.analysis.transfer_roles import figures

    pairs = read_pairs(pairs_csv)
    tables = {
        "donors": role_scores(pairs, "donor", settings),
        "recipients": role_scores(pairs, "recipient", settings),
        "by_regime": roles_by_regime(pairs, settings),
        "by_group": roles.group_roles(pairs, settings, seed),
        "language_heatmap": roles.role_heatmap(pairs, "language"),
        "task_heatmap": roles.role_heatmap(pairs, "task"),
    }
    for name, table in tables.items():
        io.write_csv(out[name], table.round(4), index=name.endswith("heatmap"))
    for kind in ("language", "task"):
        io.save_figure(
            out[f"{kind}_heatmap_png"], figures.group_heatmap_figure(tables[f"{kind}_heatmap"], kind, model)
        )
    io.save_figure(
        out["scatter"],
        figures.scatter_figure(tables["donors"], tables["recipients"], f"{model}: donors vs recipients"),
    )
    return tables
