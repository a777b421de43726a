"""Figures of the PCA (scree, loadings, biplot, stability, trait profiles); each returns a figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from transfer_atlas.analysis.pca.fit import hint_label
from transfer_atlas.plots import grid, heatmap


def scree(ev: pd.DataFrame, title: str):
    """Explained variance per PC (bars, bootstrap 95% interval) and cumulative (line), in %."""
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(ev) + 2), 3.8))
    pct = 100 * ev["explained_variance_ratio"]
    sns.barplot(x=ev["pc"], y=pct, ax=ax, color="#4C72B0", label="per component")
    if "ci_low" in ev:
        err = np.vstack([pct - 100 * ev["ci_low"], 100 * ev["ci_high"] - pct]).clip(min=0)
        ax.errorbar(
            np.arange(len(ev)),
            pct,
            yerr=err,
            fmt="none",
            ecolor="black",
            capsize=4,
            label="bootstrap 95% interval",
        )
    ax.plot(np.arange(len(ev)), 100 * ev["cumulative"], "o-", color="#DD8452", label="cumulative")
    for i, v in enumerate(pct):
        ax.annotate(f"{v:.1f}%", (i, v), textcoords="offset points", xytext=(8, 3), fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_xlabel("principal component")
    ax.set_ylabel("explained variance (% of total)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    return fig


def loadings_heatmap(loadings: pd.DataFrame, intervals: pd.DataFrame, model: str):
    """Targets x PCs loadings; PCs whose interval excludes 0 for a target are starred in the label."""
    frame = loadings.copy()
    if "ci_low" in intervals:
        stable = intervals.assign(stable=(intervals.ci_low > 0) | (intervals.ci_high < 0))
        counts = stable.groupby("pc", sort=False)["stable"].sum()
        frame.columns = [f"{pc}\n({int(counts.get(pc, 0))}/{len(frame)} stable)" for pc in frame.columns]
    return heatmap(
        frame,
        f"{model}: PCA loadings (target weights of each component)",
        "principal component",
        "target",
        "loading (unit-norm axis)",
        center=0.0,
        fmt=".2f",
    )


def label_offsets(x, y, names, axis_pt=(430, 330), char_pt=5.6) -> list[tuple[int, int, str]]:
    """(dx, dy, ha) in points per point label: right-above unless that box overlaps a label
    already placed; then right-below, left-above, left-below. Positions are mapped to points
    with the approximate axis size `axis_pt` (width, height) and ~1.3x data range."""
    span = 1.3 * np.array([np.ptp(x) or 1.0, np.ptp(y) or 1.0])
    candidates = [(6, 4, "left"), (6, -12, "left"), (-6, 4, "right"), (-6, -12, "right")]
    boxes, out = [], []
    for px, py, name in zip(*(np.c_[x, y] / span * axis_pt).T, names, strict=True):
        width = char_pt * len(str(name))
        for dx, dy, ha in candidates:
            x0 = px + dx if ha == "left" else px + dx - width
            box = (x0, py + dy, x0 + width, py + dy + 9)
            if not any(b[0] < box[2] and box[0] < b[2] and b[1] < box[3] and box[1] < b[3] for b in boxes):
                break
        boxes.append(box)
        out.append((dx, dy, ha))
    return out


def biplot(result, hints: dict, model: str, unit: str):
    """Adapters projected on PC1 x PC2 (trait profiles) with target loadings as arrows."""
    proj, load, ratios = result.projections, result.loadings, result.ratios
    second = proj.columns[1] if proj.shape[1] > 1 else None
    x = proj.iloc[:, 0].to_numpy()
    y = proj[second].to_numpy() if second else np.zeros_like(x)
    lx = load.iloc[:, 0].to_numpy()
    ly = load[second].to_numpy() if second else np.zeros_like(lx)
    # arrows scaled to fit inside the cloud of adapters along both axes
    fits = [np.abs(p).max() / np.abs(q).max() for p, q in ((x, lx), (y, ly)) if np.abs(q).max() > 1e-9]
    scale = 0.9 * min((f for f in fits if f > 0), default=1.0)
    fig, ax = plt.subplots(figsize=(8, 6.5))
    ax.update_datalim(np.c_[np.r_[x, lx * scale, 0], np.r_[y, ly * scale, 0]])
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    for target, dx, dy in zip(load.index, lx * scale, ly * scale, strict=True):
        ax.annotate("", xy=(dx, dy), xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "#C44E52"})
        ax.annotate(
            target,
            (dx, dy),
            textcoords="offset points",
            xytext=(0, -11 if dy < 0 else 4),
            color="#C44E52",
            fontsize=8,
            ha="center",
            style="italic",
        )
    ax.scatter(x, y, s=70, color="#4C72B0", zorder=3)
    for name, xi, yi, (dx, dy, ha) in zip(proj.index, x, y, label_offsets(x, y, proj.index), strict=True):
        ax.annotate(
            name, (xi, yi), textcoords="offset points", xytext=(dx, dy), fontsize=9, weight="bold", ha=ha
        )
    ax.margins(0.15)
    ax.legend(
        handles=[
            plt.Line2D([], [], ls="", marker="o", color="#4C72B0", label="adapter (fine-tuned on …)"),
            plt.Line2D([], [], color="#C44E52", label="target loading (arrow, rescaled)"),
        ],
        fontsize=8,
        loc="best",
    )
    pc1 = proj.columns[0]
    ax.set_xlabel(
        f"{pc1} ({100 * ratios[pc1]:.1f}% of variance; {hint_label(hints[pc1][:2])})\nprojection, {unit}"
    )
    ax.set_ylabel(
        f"{second} ({100 * ratios[second]:.1f}%; {hint_label(hints[second][:2])})\nprojection, {unit}"
        if second
        else "(single component)"
    )
    ax.set_title(f"{model}: PCA biplot of the transfer matrix")
    fig.tight_layout()
    return fig


def loading_stability(intervals: pd.DataFrame, model: str, n_pcs: int = 4):
    """Loadings of the first PCs with their bootstrap 95% intervals (one panel per PC)."""
    pcs = list(dict.fromkeys(intervals["pc"]))[:n_pcs]
    targets = list(dict.fromkeys(intervals["target"]))
    fig, axes = grid(len(pcs), len(pcs), width=3.2, height=0.35 * len(targets) + 1.6, sharey=True)
    for ax, pc in zip(axes, pcs, strict=True):
        sub = intervals[intervals.pc == pc].set_index("target").loc[targets]
        y = np.arange(len(targets))
        stable = (sub.ci_low > 0) | (sub.ci_high < 0) if "ci_low" in sub else pd.Series(False, sub.index)
        if "ci_low" in sub:
            ax.hlines(y, sub.ci_low, sub.ci_high, color="grey", lw=2)
        ax.scatter(sub.loading, y, color=np.where(stable, "#C44E52", "#4C72B0"), zorder=3)
        ax.axvline(0, color="black", lw=0.6)
        ax.set_yticks(y, targets)
        ax.set_xlim(-1.05, 1.05)
        ax.set_title(pc, fontsize=10)
        ax.set_xlabel("loading")
    axes[0].invert_yaxis()  # shared y axis: first target on top
    fig.suptitle(
        f"{model}: loading stability (bootstrap 95% interval; red = interval excludes 0)", fontsize=10
    )
    fig.tight_layout()
    return fig


def profiles_heatmap(projections: pd.DataFrame, model: str, unit: str):
    return heatmap(
        projections,
        f"{model}: trait profiles (adapter projections on each PC)",
        "principal component",
        "fine-tuned on (source)",
        f"projection ({unit})",
        center=0.0,
    )
