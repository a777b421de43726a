"""Asymmetry of transfer between datasets that are both sources and targets.

M = delta restricted to the shared datasets (rows = source, columns = target, points, in
config order); A = (M - M^T) / 2 is its antisymmetric part: A[a, b] > 0 when a -> b
transfers better than b -> a. Asymmetry index = ||A||_F / ||M off-diagonal||_F, in [0, 1]
(0: symmetric transfer, 1: purely antisymmetric). Only transfer pairs count
(`analysis.common`): cells of a dataset and its variant (and the diagonal) are left out of
A (NaN), the ranked pairs and the index.

By task-type block (the Latent Traits study's classification -> math helps, math ->
classification hurts): every transfer pair of the whole delta matrix (common.pair_kind;
direct and variant-of-parent pairs left out) falls in a (source block, target block) with
blocks `classification` (classify and multiple_choice tasks: an answer picked from a closed
set) and `generation` (generate_number, generate_text).
asymmetry/blocks.csv: source_block, target_block, n_pairs, mean_delta, median_delta,
share_positive (Δ > 0), in points; asymmetry.json adds `blocks`: mean Δ classification ->
generation, generation -> classification and their difference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis.common import long_delta, mask_non_transfer, transfer_mask
from transfer_atlas.plots import heatmap

BLOCKS = {
    "classify": "classification",
    "multiple_choice": "classification",
    "generate_number": "generation",
    "generate_text": "generation",
}


def shared_square(delta: pd.DataFrame, roots: dict | None = None) -> pd.DataFrame:
    """Delta restricted to datasets that are both rows and columns, in column (config) order;
    non-transfer cells (diagonal, dataset vs its variant) are NaN."""
    shared = [d for d in delta.columns if d in delta.index]
    return mask_non_transfer(delta.loc[shared, shared].astype(float), roots)


def antisymmetric(square: pd.DataFrame) -> pd.DataFrame:
    return (square - square.T) / 2


def ranked_pairs(square: pd.DataFrame) -> pd.DataFrame:
    """One row per unordered pair, oriented so `a -> b` is the stronger direction; by |asymmetry|."""
    names = list(square.index)
    rows = []
    for i, x in enumerate(names):
        for y in names[i + 1 :]:
            xy, yx = float(square.loc[x, y]), float(square.loc[y, x])
            if np.isnan(xy) or np.isnan(yx):  # not a transfer pair
                continue
            a, b, ab, ba = (x, y, xy, yx) if xy >= yx else (y, x, yx, xy)
            rows.append(
                {
                    "a": a,
                    "b": b,
                    "delta_a_to_b": ab,
                    "delta_b_to_a": ba,
                    "asymmetry": (ab - ba) / 2,
                    "sign_flip": bool(np.sign(ab) != np.sign(ba) and ab != 0 and ba != 0),
                }
            )
    frame = pd.DataFrame(rows, columns=["a", "b", "delta_a_to_b", "delta_b_to_a", "asymmetry", "sign_flip"])
    frame = frame.sort_values("asymmetry", ascending=False, kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def asymmetry_index(square: pd.DataFrame) -> float:
    """||A||_F / ||M with zeroed diagonal and non-transfer cells||_F; NaN when that is zero."""
    off = np.nan_to_num(square.to_numpy(dtype=float).copy())
    np.fill_diagonal(off, 0.0)
    norm = np.linalg.norm(off)
    return float(np.linalg.norm((off - off.T) / 2) / norm) if norm > 0 else float("nan")


def block_table(delta: pd.DataFrame, types: dict[str, str], roots: dict[str, str] | None) -> pd.DataFrame:
    """Transfer pairs of `delta` (adapters x targets, points) summarised by (source, target) block."""
    pairs = long_delta(delta)
    pairs = pairs[transfer_mask(pairs, roots)]
    pairs = pairs.assign(
        source_block=pairs.source.map(lambda d: BLOCKS[types[d]]),
        target_block=pairs.target.map(lambda d: BLOCKS[types[d]]),
    )
    rows = []
    for (src, tgt), group in pairs.groupby(["source_block", "target_block"], sort=True):
        rows.append(
            {
                "source_block": src,
                "target_block": tgt,
                "n_pairs": len(group),
                "mean_delta": float(group.delta.mean()),
                "median_delta": float(group.delta.median()),
                "share_positive": float((group.delta > 0).mean()),
            }
        )
    columns = ["source_block", "target_block", "n_pairs", "mean_delta", "median_delta", "share_positive"]
    return pd.DataFrame(rows, columns=columns)


def block_asymmetry(blocks: pd.DataFrame) -> dict:
    """Mean Δ classification -> generation, generation -> classification, and their difference."""
    mean = blocks.set_index(["source_block", "target_block"])["mean_delta"]
    c2g = float(mean.get(("classification", "generation"), np.nan))
    g2c = float(mean.get(("generation", "classification"), np.nan))
    return {"classification_to_generation": c2g, "generation_to_classification": g2c, "difference": c2g - g2c}


def run(
    delta_csv: str,
    model: str,
    out: dict,
    roots: dict[str, str] | None = None,
    types: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Antisymmetric part, ranked pairs and heatmaps of the shared datasets; with `types`
    ({dataset: task type}) also the task-type blocks (out["blocks"], out["blocks_figure"])."""
    delta = pd.read_csv(delta_csv, index_col="adapter")
    square = shared_square(delta, roots)
    if len(square) < 2:
        raise io.DataError(f"{delta_csv}: asymmetry needs >= 2 datasets that are both sources and targets")
    anti = antisymmetric(square)
    pairs = ranked_pairs(square)
    if types:
        blocks = block_table(delta, types, roots)
        io.write_csv(out["blocks"], blocks.round(6))
        io.save_figure(out["blocks_figure"], block_heatmap(blocks, model))
    io.write_csv(out["antisymmetric"], anti.rename_axis("source").round(6), index=True)
    io.write_csv(out["pairs"], pairs.round(6))
    io.write_json(
        out["summary"],
        {
            "model": model,
            "datasets": list(square.index),
            "asymmetry_index": asymmetry_index(square),
            "n_sign_flips": int(pairs.sign_flip.sum()),
            "units": "points",
            **({"blocks": block_asymmetry(blocks)} if types else {}),
        },
    )
    io.save_figure(out["heatmap"], asymmetry_heatmap(anti, model))
    return pairs


# --- figures -----------------------------------------------------------------------------------


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


def block_heatmap(blocks: pd.DataFrame, model: str):
    """Mean Δ of the transfer pairs per (source block, target block), n pairs in each cell."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if blocks.empty:
        from transfer_atlas.plots import empty

        return empty(f"{model}: transfer by task-type block", "no transfer pairs")
    grid_ = blocks.pivot(index="source_block", columns="target_block", values="mean_delta")
    counts = blocks.pivot(index="source_block", columns="target_block", values="n_pairs")
    notes = grid_.map(lambda v: "" if pd.isna(v) else f"{v:+.1f}") + counts.map(
        lambda n: "" if pd.isna(n) else f"\n({int(n)} pairs)"
    )
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    sns.heatmap(
        grid_,
        annot=notes,
        fmt="",
        center=0.0,
        cmap="RdBu_r",
        ax=ax,
        linewidths=0.5,
        cbar_kws={"label": "mean Δ (points)"},
    )
    ax.set_title(f"{model}: transfer by task-type block\n(transfer pairs only)")
    ax.set_xlabel("target block")
    ax.set_ylabel("source block")
    fig.tight_layout()
    return fig
