"""Figures of the transfer-roles analyses (regimes, donors and recipients, agreement).

Δ in points (pp) vs the base model; each function returns a figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transfer_atlas.analysis.common import DELTA
from transfer_atlas.analysis.transfer_roles.pairs import REGIMES
from transfer_atlas.analysis.transfer_roles.roles import ROLE_REGIME
from transfer_atlas.plots import empty, grid, heatmap


def regime_figure(summary: pd.DataFrame, title: str, settings: dict):
    """Mean Δ, share positive and share harmed per regime (bars: models; whiskers: 95% CI)."""
    order = [*REGIMES, "transfer"]
    pos, harm = settings["positive_threshold"], settings["harm_threshold"]
    panels = [
        ("mean_delta", f"mean {DELTA}", 1.0),
        ("share_positive", f"share positive (Δ > {pos:g} pp), %", 100.0),
        ("share_harm", f"share harmed (Δ ≤ -{harm:g} pp), %", 100.0),
    ]
    fig, axes = grid(3, 3, width=4.6, height=3.6)
    models = list(dict.fromkeys(summary["model"]))
    palette = dict(zip(models, sns.color_palette("colorblind", len(models)), strict=True))
    width = 0.8 / len(models)
    for ax, (col, label, scale) in zip(axes, panels, strict=True):
        for k, model in enumerate(models):
            sub = summary[summary["model"] == model].set_index("regime").reindex(order)
            x = np.arange(len(order)) + (k - (len(models) - 1) / 2) * width
            y = scale * sub[col].to_numpy(float)
            err = np.vstack([y - scale * sub[f"{col}_ci_low"], scale * sub[f"{col}_ci_high"] - y])
            ax.bar(x, y, width, color=palette[model], label=model)
            ax.errorbar(x, y, yerr=np.nan_to_num(err.clip(min=0)), fmt="none", ecolor="black", capsize=3)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(np.arange(len(order)), order)
        ax.set_xlabel("regime (MT-ML = direct cell, not transfer)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8, title="model")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def scatter_figure(donors: pd.DataFrame, recipients: pd.DataFrame, title: str):
    """Donor score (x) vs recipient score (y) of every dataset; colour = task, marker = language."""
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
    if table.empty or table["spearman_rho"].isna().all():
        return empty(title, "Needs at least two base models sharing 3 or more datasets.")

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


def group_heatmap_figure(table: pd.DataFrame, kind: str, model: str):
    """Mean Δ by source x target {kind} (roles.role_heatmap: MT-CL pairs for languages, CT-ML
    pairs for tasks; diagonal masked)."""
    return heatmap(
        table,
        f"{model}: mean transfer by {kind}, {ROLE_REGIME[kind]} pairs only (diagonal masked)",
        f"evaluated on (target {kind})",
        f"fine-tuned on (source {kind})",
        f"mean {DELTA}",
    )
