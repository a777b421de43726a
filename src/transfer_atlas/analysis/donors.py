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
from transfer_atlas.analysis.regimes import DELTA, TRANSFER, read_pairs

SIDE = {"donor": "source", "recipient": "target"}


def _aggregate(frame: pd.DataFrame, keys: list[str], settings: dict) -> pd.DataFrame:
    pos, harm = settings["positive_threshold"], -settings["harm_threshold"]
    grouped = frame.groupby(keys, sort=False)["delta"]
    out = grouped.agg(
        score="mean",
        std=lambda d: d.std(ddof=1),
        n_cells="size",
        share_positive=lambda d: (d > pos).mean(),
        share_harm=lambda d: (d <= harm).mean(),
    )
    out["se"] = out["std"] / np.sqrt(out["n_cells"])
    return out.drop(columns="std").reset_index()


def role_scores(pairs: pd.DataFrame, role: str, settings: dict, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Donor (role="donor") or recipient scores per model x dataset (x `by` columns), ranked."""
    side = SIDE[role]
    transfer = pairs[pairs["regime"].isin(TRANSFER)]
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
    transfer = pairs[pairs["regime"].isin(TRANSFER)]
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
    transfer = pairs[pairs["regime"].isin(TRANSFER)]
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


# --- figures ----------------------------------------------------------------------------------


def scatter_figure(donors: pd.DataFrame, recipients: pd.DataFrame, title: str):
    """Donor score (x) vs recipient score (y) of every dataset; colour = task, marker = language."""
    import seaborn as sns

    from transfer_atlas.analysis.figures import grid

    keys = ["model", "dataset", "task", "language"]
    both = donors[keys + ["score"]].merge(
        recipients[keys + ["score"]], on=keys, suffixes=("_donor", "_recipient")
    )
    models = list(dict.fromkeys(both["model"]))
    fig, axes = grid(max(1, len(models)), 3, width=5.2, height=4.4)
    order = {k: list(dict.fromkeys(both[k])) for k in ("task", "language")}
    for ax, model in zip(axes, models or [""], strict=True):
        sub = both[both["model"] == model]
        sns.scatterplot(
            data=sub,
            x="score_donor",
            y="score_recipient",
            hue="task",
            style="language",
            s=60,
            ax=ax,
            hue_order=order["task"],
            style_order=order["language"],
        )
        if len(sub) <= 48:
            for _, r in sub.iterrows():
                ax.annotate(
                    r["dataset"],
                    (r["score_donor"], r["score_recipient"]),
                    fontsize=6,
                    xytext=(3, 2),
                    textcoords="offset points",
                )
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel("donor score: mean Δ given (points)")
        ax.set_ylabel("recipient score: mean Δ received (points)")
        ax.set_title(model)
        ax.legend(fontsize=6, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def consistency_figure(table: pd.DataFrame, title: str):
    """Spearman rho of donor / recipient scores per pair of models (bars)."""
    from transfer_atlas.analysis.figures import empty

    if table.empty or table["spearman_rho"].isna().all():
        return empty(title, "Needs at least two base models sharing 3 or more datasets.")
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = table.assign(pair=table["model_a"] + " vs " + table["model_b"])
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * data["pair"].nunique() + 2), 3.8))
    sns.barplot(data=data, x="pair", y="spearman_rho", hue="role", ax=ax)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("pair of base models")
    ax.set_ylabel("Spearman ρ of the scores (unitless)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _heatmap(table: pd.DataFrame, kind: str, model: str):
    from transfer_atlas.plots import heatmap

    return heatmap(
        table,
        f"{model}: mean transfer by {kind} (MT-ML cells excluded)",
        f"evaluated on (target {kind})",
        f"fine-tuned on (source {kind})",
        f"mean {DELTA}",
    )


# --- entry points -----------------------------------------------------------------------------


def run(pairs_csv: str, model: str, settings: dict, out: dict) -> dict[str, pd.DataFrame]:
    """Donor/recipient tables, group heatmaps and the scatter of one model (or `external`)."""
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
        io.save_figure(out[f"{kind}_heatmap_png"], _heatmap(tables[f"{kind}_heatmap"], kind, model))
    io.save_figure(
        out["scatter"],
        scatter_figure(tables["donors"], tables["recipients"], f"{model}: donors vs recipients"),
    )
    return tables


def run_all_models(pairs_csvs: list[str], settings: dict, seed: int, out: dict) -> dict[str, pd.DataFrame]:
    """Regimes, donors and recipients of every model side by side, and their consistency."""
    from transfer_atlas.analysis.regimes import regime_figure, summarize

    frames = [read_pairs(p) for p in pairs_csvs]
    if len({m for f in frames for m in f["model"].unique()}) < sum(f["model"].nunique() for f in frames):
        raise io.DataError(f"the same model name appears in several pairs tables: {pairs_csvs}")
    pairs = pd.concat(frames, ignore_index=True)
    scores = pd.concat([role_scores(pairs, role, settings) for role in SIDE], ignore_index=True)
    tables = {
        "regimes": summarize(pairs, settings, seed),
        "donors": scores[scores["role"] == "donor"],
        "recipients": scores[scores["role"] == "recipient"],
        "consistency": consistency(scores),
    }
    for name, table in tables.items():
        io.write_csv(out[name], table.round(4))
    io.save_figure(
        out["regimes_png"], regime_figure(tables["regimes"], "Transfer by regime, every model", settings)
    )
    io.save_figure(
        out["consistency_png"],
        consistency_figure(tables["consistency"], "Do base models agree on donors and recipients?"),
    )
    return tables
