"""Figures of the across-model transfer-roles analyses (`across_models.py`); Δ in points."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transfer_atlas.analysis.common import DELTA
from transfer_atlas.analysis.transfer_roles.roles import ROLE_REGIME
from transfer_atlas.plots import empty, grid, heatmap


def roles_figure(language: pd.DataFrame, task: pd.DataFrame, collection: str):
    """Donor and recipient scores of every language (MT-CL) and task (CT-ML), ± SE across models."""
    panels = [
        (kind, role, frame)
        for kind, frame in (("language", language), ("task", task))
        for role in ("donor", "recipient")
    ]
    panels = [(k, r, f[f["role"] == r]) for k, r, f in panels if len(f[f["role"] == r])]
    if not panels:
        return empty(f"{collection}: language and task roles", "no MT-CL or CT-ML pairs")
    fig, axes = grid(len(panels), 2, width=5.0, height=3.6)
    for ax, (kind, role, frame) in zip(axes, panels, strict=True):
        frame = frame.sort_values("score", ascending=False)
        x = np.arange(len(frame))
        ax.bar(x, frame["score"], color="#4C72B0" if role == "donor" else "#DD8452")
        ax.errorbar(
            x, frame["score"], yerr=frame["se_across_models"].fillna(0), fmt="none", ecolor="black", capsize=3
        )
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(x, frame["group"], rotation=45, ha="right")
        ax.set_title(f"{kind} {role}s ({ROLE_REGIME[kind]} pairs)", fontsize=10)
        ax.set_ylabel(f"mean {DELTA}\n(± SE across {int(frame['n_models'].max())} models)")
    fig.suptitle(f"{collection}: language and task roles, averaged over models")
    fig.tight_layout()
    return fig


def heatmap_figure(table: pd.DataFrame, kind: str, collection: str):
    """Mean over models of the source x target {kind} table of the {kind} role pairs."""
    return heatmap(
        table,
        f"{collection}: mean transfer by {kind}, {ROLE_REGIME[kind]} pairs only\n(mean over models; diagonal masked)",
        f"evaluated on (target {kind})",
        f"fine-tuned on (source {kind})",
        f"mean {DELTA}",
    )


def consistency_figure(taus: pd.DataFrame, collection: str):
    """Kendall τ-b across pairs of models per regime (one point per source x model pair)."""
    title = f"{collection}: how predictable is each regime? (consistency index)"
    if taus.empty or taus["tau_b"].isna().all():
        return empty(title, "Needs at least two base models sharing a source with 3 or more recipients.")
    fig, ax = plt.subplots(figsize=(7, 4))
    order = [r for r in ("MT-CL", "CT-ML", "CT-CL") if r in set(taus["regime"])]
    sns.boxplot(data=taus, x="regime", y="tau_b", order=order, ax=ax, color="#DDDDDD", showfliers=False)
    sns.stripplot(data=taus, x="regime", y="tau_b", order=order, hue="same_family", ax=ax, size=3, alpha=0.6)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("Kendall τ-b of recipients' Δ\nbetween two models (per source)")
    ax.legend(title="same model family", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def variance_figure(table: pd.DataFrame, collection: str):
    """Shares of the variance of Δ per component (stacked bars), overall and per regime."""
    title = f"{collection}: what drives transfer? (crossed random effects, REML)"
    if table.empty:
        return empty(title, "Too few transfer pairs for a variance decomposition.")
    wide = table.pivot_table(index="scope", columns="component", values="share", sort=False).fillna(0)
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(wide) + 2.2))
    left = np.zeros(len(wide))
    colors = dict(zip(wide.columns, sns.color_palette("tab10", len(wide.columns)), strict=True))
    for comp in wide.columns:
        vals = wide[comp].to_numpy()
        ax.barh(np.arange(len(wide)), vals, left=left, color=colors[comp], label=comp, edgecolor="white")
        for k, (x0, v) in enumerate(zip(left, vals, strict=True)):
            if v >= 0.06:
                ax.text(x0 + v / 2, k, f"{100 * v:.0f}%", ha="center", va="center", fontsize=7)
        left += vals
    ax.set_yticks(np.arange(len(wide)), wide.index)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the variance of Δ")
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    ax.set_title(title, fontsize=10, pad=40)
    fig.tight_layout()
    return fig


def hierarchy_figure(table: pd.DataFrame, corr: pd.DataFrame, collection: str):
    """Language role scores by resource class (with Spearman ρ and CI), by model family and size."""
    title = f"{collection}: the hierarchy of transfer roles"
    if table.empty:
        return empty(title, "No MT-CL pairs of languages with metadata (resources/languages.csv).")
    groupings = list(dict.fromkeys(table["grouping"]))
    fig, axes = grid(len(groupings), 3, width=4.4, height=3.4)
    for ax, grouping in zip(axes, groupings, strict=True):
        sub = table[table["grouping"] == grouping]
        sns.barplot(
            data=sub,
            x="group",
            y="score",
            hue="role",
            ax=ax,
            palette={"donor": "#4C72B0", "recipient": "#DD8452"},
        )
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel(grouping)
        ax.set_ylabel(f"mean language score\n({DELTA}, MT-CL pairs)")
        ax.tick_params(axis="x", rotation=30)
        if grouping == "resource class" and len(corr):
            text = "; ".join(
                f"{r.role}: ρ = {r.spearman_rho:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]"
                for r in corr.itertuples()
            )
            ax.set_title(text, fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def on_off_task_figure(table: pd.DataFrame, collection: str):
    """Mean MT-CL Δ (on task) vs mean CT-ML + CT-CL Δ (off task) per (model, source)."""
    title = f"{collection}: on-task vs off-task transfer per adapter"
    if table.empty or table[["on_task_delta", "off_task_delta"]].isna().all().any():
        return empty(title, "Needs MT-CL and off-task (CT-ML, CT-CL) pairs.")
    fig, ax = plt.subplots(figsize=(6.5, 5))
    sns.scatterplot(
        data=table, x="off_task_delta", y="on_task_delta", hue="model", size="off_task_harm_rate", ax=ax
    )
    lims = np.array(
        [
            table[["on_task_delta", "off_task_delta"]].min().min(),
            table[["on_task_delta", "off_task_delta"]].max().max(),
        ]
    )
    ax.plot(lims, lims, color="grey", ls="--", lw=0.8)
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel(f"off-task: mean {DELTA} on other tasks")
    ax.set_ylabel(f"on-task: mean {DELTA} on the same task, other languages")
    ax.legend(fontsize=7, title="model / off-task harm rate", title_fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
