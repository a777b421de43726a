"""Donors and recipients of a task x language transfer grid.

Donor score of a source = mean Δ it gives to the cells it transfers to; recipient score of a
target = mean Δ it receives. Only transfer pairs count (regimes MT-CL, CT-ML, CT-CL): the
direct MT-ML cell (a source evaluated on its own task and language, its "own cell") is
excluded. Scores in points (pp); `se` = std of the cell deltas / sqrt(n cells); shares are
fractions of cells with Δ > positive_threshold and Δ <= -harm_threshold. Rank 1 = the
largest score, per model.

Consistency across base models: Spearman rank correlation of the donor (and recipient)
scores of the datasets two models share (at least 3).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis.common import is_harm, is_positive
from transfer_atlas.analysis.transfer_roles.pairs import is_transfer, read_pairs

SIDE = {"donor": "source", "recipient": "target"}


def _aggregate(frame: pd.DataFrame, keys: list[str], settings: dict) -> pd.DataFrame:
    grouped = frame.groupby(keys, sort=False)["delta"]
    out = grouped.agg(
        score="mean",
        std=lambda d: d.std(ddof=1),
        n_cells="size",
        share_positive=lambda d: is_positive(d, settings).mean(),
        share_harm=lambda d: is_harm(d, settings).mean(),
    )
    out["se"] = out["std"] / np.sqrt(out["n_cells"])
    return out.drop(columns="std").reset_index()


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


def roles_by_group(pairs: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Mean Δ given (donor) / received (recipient) per language and per task, by regime."""
    transfer = pairs[is_transfer(pairs)]
    parts = []
    for role, side in SIDE.items():
        for kind in ("language", "task"):
            col = f"{side}_{kind}"
            for regime, frame in [("transfer", transfer), *transfer.groupby("regime", sort=False)]:
                agg = _aggregate(frame, ["model", col], settings).rename(columns={col: "group"})
                parts.append(agg.assign(role=role, group_kind=kind, regime=regime))
    out = pd.concat(parts, ignore_index=True)
    first = ["role", "model", "group_kind", "group", "regime"]
    return out[first + [c for c in out if c not in first]]


def group_heatmap(pairs: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Mean Δ of the transfer pairs, rows = source {kind}, columns = target {kind} (config order)."""
    transfer = pairs[is_transfer(pairs)]
    rows = list(dict.fromkeys(pairs[f"source_{kind}"]))
    cols = list(dict.fromkeys(pairs[f"target_{kind}"]))
    table = transfer.pivot_table(
        index=f"source_{kind}", columns=f"target_{kind}", values="delta", aggfunc="mean"
    )
    return table.reindex(index=rows, columns=cols)


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


def run(pairs_csv: str, model: str, settings: dict, out: dict) -> dict[str, pd.DataFrame]:
    """Donor/recipient tables, group heatmaps and the scatter of one model (or `external`)."""
    from transfer_atlas.analysis.transfer_roles import figures

    pairs = read_pairs(pairs_csv)
    tables = {
        "donors": role_scores(pairs, "donor", settings),
        "recipients": role_scores(pairs, "recipient", settings),
        "by_regime": roles_by_regime(pairs, settings),
        "by_group": roles_by_group(pairs, settings),
        "language_heatmap": group_heatmap(pairs, "language"),
        "task_heatmap": group_heatmap(pairs, "task"),
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
