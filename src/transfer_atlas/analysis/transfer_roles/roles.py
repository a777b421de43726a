"""Language and task roles as the Donors and Recipients study defines them.

Language roles come from MT-CL pairs only (same task, other language) and task roles from
CT-ML pairs only (other task, same language); transfer pairs only (`pairs.is_transfer`).
Per model: the donor score of a language (task) is the mean Δ (points) of the pairs whose
source has it; its recipient score the mean Δ of the pairs whose target has it; with a 95%
interval from a crossed bootstrap of that model's pairs (source and target datasets
resampled; `resampling` column). Across models: the mean of the per-model scores with the
SE across models (std of the model scores, ddof 1, / sqrt(n_models)).

group_roles.csv (per model): model, kind (language | task), regime, role (donor |
recipient), group, score, ci_low, ci_high, n_pairs, share_positive, share_harm, rank,
resampling. across_models.csv: kind, regime, role, group, score (mean over models),
se_across_models, n_models, min_model_score, max_model_score.
Heatmaps: language x language of MT-CL pairs, task x task of CT-ML pairs (mean Δ; per model,
or the mean of the per-model tables); the diagonal is masked (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_atlas.analysis.common import (
    CROSSED,
    crossed_weights,
    is_harm,
    is_positive,
    percentile_interval,
    weighted_means,
)
from transfer_atlas.analysis.transfer_roles.pairs import is_transfer

ROLE_REGIME = {"language": "MT-CL", "task": "CT-ML"}
SIDE = {"donor": "source", "recipient": "target"}


def role_pairs(pairs: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The pairs that define `kind` roles: MT-CL for language, CT-ML for task (transfer only)."""
    return pairs[is_transfer(pairs) & (pairs["regime"] == ROLE_REGIME[kind])]


def model_group_roles(
    frame: pd.DataFrame, kind: str, settings: dict, rng: np.random.Generator
) -> pd.DataFrame:
    """Donor and recipient scores of every language (task) of one model's role pairs."""
    weights = crossed_weights(frame["source"], frame["target"], settings["bootstrap"], rng)
    delta = frame["delta"].to_numpy(float)
    rows = []
    for role, side in SIDE.items():
        groups = frame[f"{side}_{kind}"].astype(str).to_numpy()
        for group in dict.fromkeys(groups):
            sel = groups == group
            lo, hi = (
                percentile_interval(weighted_means(weights[:, sel], delta[sel]))
                if len(weights)
                else (np.nan,) * 2
            )
            rows.append(
                {
                    "kind": kind,
                    "regime": ROLE_REGIME[kind],
                    "role": role,
                    "group": group,
                    "score": float(delta[sel].mean()),
                    "ci_low": lo,
                    "ci_high": hi,
                    "n_pairs": int(sel.sum()),
                    "share_positive": float(is_positive(delta[sel], settings).mean()),
                    "share_harm": float(is_harm(delta[sel], settings).mean()),
                }
            )
    return pd.DataFrame(rows)


def group_roles(pairs: pd.DataFrame, settings: dict, seed: int = 0) -> pd.DataFrame:
    """Per model, language roles (MT-CL) and task roles (CT-ML) with crossed intervals, ranked."""
    rng = np.random.default_rng(seed)
    parts = []
    for kind in ROLE_REGIME:
        for model, frame in role_pairs(pairs, kind).groupby("model", sort=False):
            parts.append(model_group_roles(frame, kind, settings, rng).assign(model=model))
    columns = ["model", "kind", "regime", "role", "group", "score", "ci_low", "ci_high", "n_pairs"]
    if not parts:
        return pd.DataFrame(columns=[*columns, "share_positive", "share_harm", "rank", "resampling"])
    out = pd.concat(parts, ignore_index=True)
    out["rank"] = (
        out.groupby(["model", "kind", "role"])["score"].rank(ascending=False, method="min").astype(int)
    )
    out["resampling"] = CROSSED
    return out[[*columns, "share_positive", "share_harm", "rank", "resampling"]]


def across_models(per_model: pd.DataFrame) -> pd.DataFrame:
    """Mean of the per-model scores per (kind, role, group), with the SE across models."""
    keys = ["kind", "regime", "role", "group"]
    grouped = per_model.groupby(keys, sort=False)["score"]
    out = grouped.agg(
        score="mean",
        sd="std",
        n_models="count",
        min_model_score="min",
        max_model_score="max",
    ).reset_index()
    out.insert(5, "se_across_models", out.pop("sd") / np.sqrt(out["n_models"]))
    out.loc[out["n_models"] < 2, "se_across_models"] = np.nan
    return out


def role_heatmap(pairs: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Mean Δ of the `kind` role pairs, rows = source {kind}, columns = target {kind}: per model,
    then the mean over models; diagonal (same {kind}) masked (NaN). Order = first appearance."""
    sel = role_pairs(pairs, kind)
    rows = list(dict.fromkeys(pairs[f"source_{kind}"].astype(str)))
    cols = list(dict.fromkeys(pairs[f"target_{kind}"].astype(str)))
    tables = [
        frame.pivot_table(index=f"source_{kind}", columns=f"target_{kind}", values="delta", aggfunc="mean")
        for _, frame in sel.groupby("model", sort=False)
    ]
    if tables:
        table = pd.concat(tables).groupby(level=0, sort=False).mean().reindex(index=rows, columns=cols)
    else:
        table = pd.DataFrame(np.nan, index=rows, columns=cols)
    same = np.array([[r == c for c in cols] for r in rows], dtype=bool).reshape(len(rows), len(cols))
    return table.mask(same).rename_axis(index=f"source_{kind}", columns=f"target_{kind}")
