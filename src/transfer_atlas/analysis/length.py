"""Output-length transfer on generation targets.

Lengths are whitespace-separated words (tokenizer independent, so model outputs, the
source's training targets and the target's reference answers are comparable). For every
(adapter, target): mean lengths and the 1-D Wasserstein distance (in words) of the
adapter's outputs to the base model's outputs, to the source dataset's training targets,
and to the target's reference answers; the distance between the source's training targets
and the target's reference answers (`w_source_reference`: a property of the two datasets,
not of the outputs); then the Spearman correlation of each distance with the Δ score
(points) across adapters, per target and pooled, over transfer pairs only (`kind` column,
`analysis.common`: the adapter's own cell and a variant on its parent are reported in the
table but never enter a correlation).

Interpolation coefficient (column `interpolation`): where the adapter's mean output length
sits between the base model's and the source's training targets',
(mean_output - mean_base) / (mean_source - mean_base): 0 = the base model's length, 1 = the
source's, in between = interpolating, < 0 or > 1 = beyond either; NaN when the two means are
less than MIN_GAP words apart (no room to interpolate) and for the base row.

results/analysis/{model}/length/lengths.csv: source, target, n_outputs, mean_output,
mean_base, mean_source, mean_reference, w_base, w_source, w_reference, w_source_reference,
interpolation, delta (lengths and distances in words, delta in points), kind.
"""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy.stats import spearmanr, wasserstein_distance

from transfer_atlas import io
from transfer_atlas.analysis import inputs
from transfer_atlas.analysis.common import DELTA, TRANSFER_PAIR, pair_kind
from transfer_atlas.plots import density, grid

log = logging.getLogger(__name__)
MEASURES = ("w_base", "w_source", "w_reference", "w_source_reference")
MIN_GAP = 1.0  # words between the base's and the source's mean length for an interpolation coefficient


def word_counts(texts) -> np.ndarray:
    return np.array([len(str(t).split()) for t in texts], dtype=float)


def wasserstein(a, b) -> float:
    """1-D earth mover's distance between two samples (same unit as the samples)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(wasserstein_distance(a, b))


def interpolation(mean_output: float, mean_base: float, mean_source: float) -> float:
    """(mean_output - mean_base) / (mean_source - mean_base); NaN when |gap| < MIN_GAP words."""
    gap = mean_source - mean_base
    if not np.isfinite(gap) or abs(gap) < MIN_GAP:
        return float("nan")
    return float((mean_output - mean_base) / gap)


def length_row(output, base, source, reference) -> dict:
    """Mean lengths, Wasserstein distances (words) and interpolation coefficient of one adapter."""
    row = {
        "mean_output": float(np.mean(output)),
        "mean_base": float(np.mean(base)),
        "mean_source": float(np.mean(source)) if len(source) else np.nan,
        "mean_reference": float(np.mean(reference)),
        "w_base": wasserstein(output, base),
        "w_source": wasserstein(output, source),
        "w_reference": wasserstein(output, reference),
        "w_source_reference": wasserstein(source, reference),
    }
    row["interpolation"] = interpolation(row["mean_output"], row["mean_base"], row["mean_source"])
    return row


def correlations(table: pd.DataFrame) -> pd.DataFrame:
    """Spearman rho of each distance with delta across adapters: per target and pooled (`all`)."""
    rows = []
    sub = table[table["kind"] == TRANSFER_PAIR]
    groups = [(t, g) for t, g in sub.groupby("target", sort=False)] + [("all", sub)]
    for target, group in groups:
        for measure in MEASURES:
            ok = group[[measure, "delta"]].dropna()
            rho, p = (np.nan, np.nan)
            if len(ok) >= 3 and ok[measure].nunique() > 1 and ok["delta"].nunique() > 1:
                res = spearmanr(ok[measure], ok["delta"])
                rho, p = float(res.statistic), float(res.pvalue)
            rows.append({"target": target, "measure": measure, "rho": rho, "p_value": p, "n": len(ok)})
    return pd.DataFrame(rows)


def collect_lengths(
    prediction_paths: list[str], source_paths: dict[str, str], reference_paths: dict[str, str]
):
    """{(source|base, target): output lengths (pooled over seeds), ("source_data", s), ("reference", t)}."""
    lengths: dict[tuple[str, str], np.ndarray] = {}
    for target, paths in inputs.group_by_target(prediction_paths).items():
        pooled: dict[str, list] = {}
        for adapter, path in paths.items():
            outputs = inputs.read_predictions(path, ("id", "output"))["output"]
            pooled.setdefault(inputs.source_of(adapter), []).extend(word_counts(outputs))
        lengths.update({(s, target): np.array(v) for s, v in pooled.items()})
    for source, path in source_paths.items():
        lengths[("source_data", source)] = word_counts(r["target"] for r in io.read_jsonl(path, ("target",)))
    for target, path in reference_paths.items():
        lengths[("reference", target)] = word_counts(r["target"] for r in io.read_jsonl(path, ("target",)))
    return lengths


def length_table(
    lengths: dict, delta: pd.DataFrame, targets: list[str], roots: dict | None = None
) -> pd.DataFrame:
    """One row per (base or source, target): lengths, distances, Δ and the pair `kind`."""
    rows = []
    for target in targets:
        for source in ["base", *delta.index]:
            src = np.array([]) if source == "base" else lengths[("source_data", source)]
            row = {
                "source": source,
                "target": target,
                "n_outputs": len(lengths[(source, target)]),
                **length_row(
                    lengths[(source, target)], lengths[("base", target)], src, lengths[("reference", target)]
                ),
            }
            row["delta"] = 0.0 if source == "base" else float(delta.loc[source, target])
            row["kind"] = "base" if source == "base" else pair_kind(source, target, roots)
            rows.append(row)
    return pd.DataFrame(rows)


def run(
    prediction_paths: list[str],
    source_paths: dict[str, str],
    reference_paths: dict[str, str],
    delta_csv: str,
    model: str,
    out: dict,
    roots: dict | None = None,
) -> pd.DataFrame:
    """Length table, correlations with delta, KDE grid and scatter for the generation targets."""
    delta = pd.read_csv(delta_csv, index_col="adapter")
    lengths = collect_lengths(prediction_paths, source_paths, reference_paths)
    table = length_table(lengths, delta, list(reference_paths), roots)
    corr = correlations(table)
    io.write_csv(out["table"], table.round(4))
    io.write_csv(out["correlation"], corr.round(6))
    io.save_figure(out["kde"], length_kdes(lengths, table, model))
    io.save_figure(out["scatter"], length_vs_delta(table, corr, model))
    io.save_figure(out["interpolation"], interpolation_heatmap(table, model))
    io.save_figure(out["source_reference"], source_reference_vs_delta(table, corr, model))
    return table


# --- figures -----------------------------------------------------------------------------------


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


def _distance_vs_delta(
    table: pd.DataFrame, corr: pd.DataFrame, model: str, measure: str, title: str, xlabel: str
):
    """Scatter of one length distance (`measure` column, words) vs Δ over transfer pairs, with
    the pooled Spearman ρ from `corr` in the title."""
    sub = table[table["kind"] == TRANSFER_PAIR]
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    sns.scatterplot(data=sub, x=measure, y="delta", hue="target", style="target", s=70, ax=ax)
    for r in sub.itertuples():
        ax.annotate(
            r.source, (getattr(r, measure), r.delta), fontsize=7, textcoords="offset points", xytext=(4, 3)
        )
    pooled = corr[(corr.target == "all") & (corr.measure == measure)]
    note = f" (pooled Spearman ρ = {pooled.rho.iloc[0]:.2f})" if len(pooled) else ""
    ax.set_title(f"{model}: {title}{note}", fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(DELTA)
    ax.axhline(0, color="grey", lw=0.5)
    fig.tight_layout()
    return fig


def length_vs_delta(table: pd.DataFrame, corr: pd.DataFrame, model: str):
    """Wasserstein distance of adapter outputs to the target's reference lengths vs Δ (transfer pairs)."""
    return _distance_vs_delta(
        table,
        corr,
        model,
        "w_reference",
        "closer to the target's lengths, more transfer?",
        "Wasserstein distance, adapter output vs target references (words)",
    )


def interpolation_heatmap(table: pd.DataFrame, model: str):
    """Interpolation coefficient per (adapter, generation target): 0 = base length, 1 = source's."""
    from transfer_atlas.plots import heatmap

    grid_ = table[table.source != "base"].pivot(index="source", columns="target", values="interpolation")
    grid_ = grid_.reindex(
        index=list(dict.fromkeys(table.source[table.source != "base"])),
        columns=list(dict.fromkeys(table.target)),
    )
    return heatmap(
        grid_,
        f"{model}: where each adapter's mean output length sits\n0 = base model's, 1 = source's training targets",
        "evaluated on (generation target)",
        "fine-tuned on (source)",
        "interpolation coefficient",
        center=0.5,
        fmt=".2f",
        cmap="PuOr_r",
    )


def source_reference_vs_delta(table: pd.DataFrame, corr: pd.DataFrame, model: str):
    """Wasserstein distance of the source's training targets to the target's references vs Δ
    (transfer pairs)."""
    return _distance_vs_delta(
        table,
        corr,
        model,
        "w_source_reference",
        "source's answer lengths close to the target's, more transfer?",
        "Wasserstein distance, source training targets vs target references (words)",
    )
