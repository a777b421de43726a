"""Figures of the analyses (seaborn/matplotlib); each function returns a figure.

Order of datasets = order of the frames given (config order); scores in points of
accuracy (the target's primary metric, 0-100); heatmaps use transfer_atlas.plots.heatmap.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from transfer_atlas.plots import heatmap  # noqa: E402

DELTA = "Δ score vs base (points of accuracy)"


def grid(n: int, ncols: int, width: float = 3.6, height: float = 3.0, **kwargs):
    """Figure with n panels in rows of `ncols`; unused axes hidden. Returns (fig, flat axes)."""
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kwargs)
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def empty(title: str, message: str):
    """A placeholder figure saying why there is nothing to plot."""
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig


# --- PCA -------------------------------------------------------------------------------


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
    ax.set_xlabel(f"{pc1} ({100 * ratios[pc1]:.1f}% of variance; {_short(hints[pc1])})\nprojection, {unit}")
    ax.set_ylabel(
        f"{second} ({100 * ratios[second]:.1f}%; {_short(hints[second])})\nprojection, {unit}"
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


def _short(hints: list[dict]) -> str:
    return ", ".join(f"{'+' if h['loading'] >= 0 else '−'}{h['target']}" for h in hints[:2])


def profiles_heatmap(projections: pd.DataFrame, model: str, unit: str):
    return heatmap(
        projections,
        f"{model}: trait profiles (adapter projections on each PC)",
        "principal component",
        "fine-tuned on (source)",
        f"projection ({unit})",
        center=0.0,
    )


# --- similarity --------------------------------------------------------------------------


def similarity_heatmap(sim: pd.DataFrame, title: str):
    return heatmap(sim, title, "dataset", "dataset", "cosine similarity", center=0.0, fmt=".2f")


def extremes(frame: pd.DataFrame, columns: list[str], k: int) -> pd.Index:
    """Index of the rows with the k largest |value| of any of `columns` (the ones worth a label)."""
    keep = set()
    for col in columns:
        keep |= set(frame[col].abs().nlargest(k).index)
    return pd.Index(sorted(keep))


def similarity_scatter(pairs: pd.DataFrame, stats: pd.DataFrame, model: str):
    """One panel per similarity kind: similarity (x) vs transfer delta (y) over source≠target pairs."""
    kinds = list(stats["kind"])
    fig, axes = grid(len(kinds), len(kinds), width=5.2, height=4.4)
    for ax, kind in zip(axes, kinds, strict=True):
        sub = pairs[pairs.kind == kind]
        ax.scatter(sub.similarity, sub.delta, color="#4C72B0", alpha=0.8)
        for _, row in sub.loc[extremes(sub, ["delta", "similarity"], 3)].iterrows():
            ax.annotate(
                f"{row.source}→{row.target}",
                (row.similarity, row.delta),
                fontsize=7,
                textcoords="offset points",
                xytext=(4, 3),
            )
        s = stats.set_index("kind").loc[kind]
        ax.set_title(
            f"{kind}: Spearman ρ = {s.spearman_rho:.2f}, Mantel p = {s.mantel_p:.3f} ({s.n_pairs} pairs)",
            fontsize=10,
        )
        ax.set_xlabel(f"{kind} similarity of source and target (cosine)")
        ax.set_ylabel(DELTA)
        ax.axhline(0, color="grey", lw=0.5)
        ax.margins(0.12)
    fig.suptitle(f"{model}: does dataset similarity explain transfer? (labels: most extreme pairs)")
    fig.tight_layout()
    return fig


# --- dependency relations ----------------------------------------------------------------


def success_ratios(table: pd.DataFrame, top: int, model: str, target: str):
    """Per adapter, the `top` relations with the highest success ratio (bootstrap 95% interval).

    Relations found in every prompt are left out (their ratio is the overall one, drawn as a
    dotted line); ratios are written at the bar ends.
    """
    title = f"{model} on {target}: success ratio per dependency relation"
    if table.empty:
        return empty(title, "no relation reached the minimum prompt count (analysis.dependency.min_count)")
    table = table.assign(
        **{
            c: pd.to_numeric(table[c], errors="coerce")
            for c in ("success_ratio", "ci_low", "ci_high", "n_prompts")
        }
    )
    sources = list(dict.fromkeys(table["source"]))
    n_all = table["n_prompts"].max()
    informative = table[(table.n_prompts < n_all) & table.success_ratio.notna()]
    rows_shown = max(1, min(top, informative.groupby("source").size().max() if len(informative) else 1))
    fig, axes = grid(len(sources), 3, width=4.6, height=0.34 * rows_shown + 1.7)
    finite = table.success_ratio[np.isfinite(table.success_ratio)]
    xmax = max(2.0, 1.25 * finite.max()) if len(finite) else 2.0
    for ax, source in zip(axes, sources, strict=True):
        rows = table[table.source == source]
        overall = rows[rows.n_prompts == n_all].success_ratio
        sub = rows[(rows.n_prompts < n_all) & rows.success_ratio.notna()]
        sub = sub.sort_values(["success_ratio", "n_prompts"], ascending=[False, True]).head(top)
        ax.axvline(1.0, color="grey", lw=0.8, ls="--")
        if len(overall) and np.isfinite(overall.iloc[0]):
            ax.axvline(
                overall.iloc[0], color="black", lw=0.8, ls=":", label=f"all prompts: {overall.iloc[0]:.2f}"
            )
            ax.legend(fontsize=7, loc="lower right")
        ax.set_title(f"{source} adapter", fontsize=10)
        ax.set_xlabel("success ratio (adapter / base accuracy)")
        ax.set_xlim(0, xmax)
        if sub.empty:
            ax.text(
                0.5,
                0.5,
                "no relation with a defined ratio\n(base accuracy 0, or every relation\nin every prompt)",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=8,
            )
            ax.set_yticks([])
            continue
        y = np.arange(len(sub))
        ratio = sub["success_ratio"].to_numpy()
        ax.barh(y, ratio, color=np.select([ratio > 1, ratio < 1], ["#55A868", "#C44E52"], "#8C8C8C"))
        err = np.vstack([sub.success_ratio - sub.ci_low, sub.ci_high - sub.success_ratio])
        ax.errorbar(
            sub["success_ratio"],
            y,
            xerr=np.nan_to_num(err.clip(min=0)),
            fmt="none",
            ecolor="black",
            capsize=2,
            lw=0.8,
        )
        for yi, v in zip(y, sub["success_ratio"], strict=True):
            ax.text(min(v, xmax) + 0.02 * xmax, yi - 0.2, f"{v:.2f}", fontsize=7)
        ax.set_yticks(y, [f"{r.relation} (n={r.n_prompts})" for r in sub.itertuples()], fontsize=8)
        ax.set_ylim(rows_shown - 0.5, -0.5)  # same bar thickness in every panel, first on top
    fig.suptitle(f"{title} of the prompts (top {top}, {n_all} prompts)")
    fig.tight_layout()
    return fig


# --- output lengths ----------------------------------------------------------------------


def density(ax, values, label: str, **kwargs) -> None:
    """KDE of `values`, or a vertical line where all values are equal."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return
    if np.ptp(values) == 0:
        ax.axvline(values[0], label=label, **kwargs)
    else:
        sns.kdeplot(x=values, ax=ax, label=label, warn_singular=False, cut=0, **kwargs)


def length_kdes(lengths: dict, table: pd.DataFrame, model: str):
    """One panel per (source, generation target): adapter vs base vs source vs reference lengths."""
    cells = table[table.source != "base"]
    fig, axes = grid(len(cells), 3, width=4.3, height=3.0)
    styles = {
        "base output": {"color": "grey"},
        "adapter output": {"color": "#4C72B0", "lw": 2},
        "source's training targets": {"color": "#DD8452", "ls": "--"},
        "target's reference answers": {"color": "black", "ls": ":"},
    }
    for ax, row in zip(axes, cells.itertuples(), strict=True):
        samples = [
            lengths[("base", row.target)],
            lengths[(row.source, row.target)],
            lengths[("source_data", row.source)],
            lengths[("reference", row.target)],
        ]
        for (label, style), values in zip(styles.items(), samples, strict=True):
            density(ax, values, label, **style)
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        ax.set_title(f"{row.source} → {row.target}: Δ = {row.delta:+.1f} points", fontsize=9)
        ax.set_xlabel("length (words)")
        ax.set_ylabel("density")
    handles = [plt.Line2D([], [], **style) for style in styles.values()]
    fig.legend(handles, list(styles), loc="upper center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, 0.985))
    fig.suptitle(f"{model}: output-length distributions (KDE; vertical line = all values equal)", y=1.0)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))
    return fig


def length_vs_delta(table: pd.DataFrame, corr: pd.DataFrame, model: str):
    """Wasserstein distance of adapter outputs to the target's reference lengths vs Δ score."""
    sub = table[table.source != "base"]
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    sns.scatterplot(data=sub, x="w_reference", y="delta", hue="target", style="target", s=70, ax=ax)
    for r in sub.itertuples():
        ax.annotate(r.source, (r.w_reference, r.delta), fontsize=7, textcoords="offset points", xytext=(4, 3))
    pooled = corr[(corr.target == "all") & (corr.measure == "w_reference")]
    note = f" (pooled Spearman ρ = {pooled.rho.iloc[0]:.2f})" if len(pooled) else ""
    ax.set_title(f"{model}: closer to the target's lengths, more transfer?{note}", fontsize=10)
    ax.set_xlabel("Wasserstein distance, adapter output vs target references (words)")
    ax.set_ylabel(DELTA)
    ax.axhline(0, color="grey", lw=0.5)
    fig.tight_layout()
    return fig


# --- class distributions -----------------------------------------------------------------


def confusion_grid(conf: pd.DataFrame, groups: dict, model: str, target: str):
    """One annotated confusion matrix (counts, mean over seeds) per adapter, base first."""
    adapters = list(dict.fromkeys(conf["adapter"]))
    labels = list(dict.fromkeys(conf["gold"]))
    size = 0.55 * len(labels) + 1.9
    fig, axes = grid(len(adapters), 4, width=size + 0.4, height=size)
    vmax = conf["count"].max()
    for ax, adapter in zip(axes, adapters, strict=True):
        cm = conf[conf.adapter == adapter].pivot(index="gold", columns="predicted", values="count")
        cm = cm.reindex(index=labels, columns=labels)
        seeds = len(groups[adapter])
        sns.heatmap(
            cm,
            annot=True,
            fmt=".0f" if seeds == 1 else ".1f",
            cmap="Blues",
            vmin=0,
            vmax=vmax,
            cbar=False,
            ax=ax,
            linewidths=0.5,
            annot_kws={"size": 8},
        )
        acc = 100 * np.trace(cm.to_numpy()) / max(cm.to_numpy().sum(), 1)
        ax.set_title(f"{adapter}\naccuracy {acc:.1f} points", fontsize=9)
        ax.set_xlabel("predicted label")
        ax.set_ylabel("gold label")
    fig.suptitle(f"{model} on {target}: confusion matrices (counts of examples)")
    fig.tight_layout()
    return fig


def _stacked(ax, frame: pd.DataFrame, colors: dict, title: str) -> None:
    """Horizontal stacked bars: rows of `frame` = bars, columns = labels (fractions)."""
    left = np.zeros(len(frame))
    for label in frame.columns:
        vals = frame[label].fillna(0).to_numpy()
        ax.barh(np.arange(len(frame)), vals, left=left, color=colors[label], label=label, edgecolor="white")
        for k, (x, v) in enumerate(zip(left, vals, strict=True)):
            if v >= 0.08:
                ax.text(x + v / 2, k, f"{100 * v:.0f}%", ha="center", va="center", fontsize=7)
        left += vals
    ax.set_yticks(np.arange(len(frame)), frame.index, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of examples")
    ax.set_title(title, fontsize=10)


def label_distributions(dist: pd.DataFrame, shift: pd.DataFrame, model: str, target: str):
    """Left: gold and predicted label distributions; right: each source's training labels."""
    labels = list(dict.fromkeys(dist["label"]))
    colors = dict(zip(labels, sns.color_palette("Set2", len(labels)), strict=True))
    pred = dist[dist.kind.isin(["gold", "predicted"])].pivot_table(
        index="adapter", columns="label", values="fraction", sort=False
    )
    tv = shift.set_index("adapter")["tvd_pred_gold"]
    pred.index = [a if a == "gold" else f"{a} (TVD {tv[a]:.2f})" for a in pred.index]
    src = dist[dist.kind == "source_train"].pivot_table(
        index="adapter", columns="label", values="fraction", sort=False
    )
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(pred) + 2.2), squeeze=False)
    _stacked(
        axes[0, 0],
        pred[[c for c in labels if c in pred.columns]],
        colors,
        f"on {target}: gold and predicted labels (TVD to gold)",
    )
    if src.empty:
        axes[0, 1].axis("off")
        axes[0, 1].text(0.5, 0.5, "no classification source", ha="center", va="center")
    else:
        _stacked(
            axes[0, 1],
            src[[c for c in labels if c in src.columns]],
            colors,
            "training labels of each classification source",
        )
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[lab]) for lab in labels]
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, title="label")
    fig.suptitle(f"{model}: class-distribution transfer on {target}")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def input_length_kdes(lengths: pd.DataFrame, datasets: list[str]):
    """Per classification dataset: KDE of prompt length (words) for each gold label."""
    labels = list(dict.fromkeys(lengths["label"]))
    colors = dict(
        zip(labels, sns.color_palette("Set2", len(labels)), strict=True)
    )  # one color per label everywhere
    fig, axes = grid(len(datasets), 3, width=4.2, height=3.2)
    for ax, dataset in zip(axes, datasets, strict=True):
        sub = lengths[lengths.dataset == dataset]
        for label, group in sub.groupby("label", sort=True):
            density(ax, group["words"], f"{label} (n={len(group)})", color=colors[label])
        ax.set_title(dataset, fontsize=10)
        ax.set_xlabel("prompt length (words)")
        ax.set_ylabel("density")
        ax.legend(fontsize=7, title="gold label", title_fontsize=7)
    fig.suptitle("Label-wise prompt lengths of the classification datasets (training split)")
    fig.tight_layout()
    return fig


# --- asymmetry ---------------------------------------------------------------------------


def asymmetry_heatmap(anti: pd.DataFrame, model: str):
    """The antisymmetric part (M - Mᵀ)/2 of the transfer matrix of the shared datasets."""
    return heatmap(
        anti,
        f"{model}: asymmetry (M − Mᵀ)/2\nred: row → column transfers more than column → row",
        "target (column)",
        "source (row)",
        "asymmetry (points of accuracy)",
        center=0.0,
    )
