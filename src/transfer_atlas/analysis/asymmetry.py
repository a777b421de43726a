"""Asymmetry of transfer between datasets that are both sources and targets.

M = delta restricted to the shared datasets (rows = source, columns = target, points, in
config order); A = (M - M^T) / 2 is its antisymmetric part: A[a, b] > 0 when a -> b
transfers better than b -> a. Asymmetry index = ||A||_F / ||M off-diagonal||_F, in [0, 1]
(0: symmetric transfer, 1: purely antisymmetric). Only transfer pairs count
(`analysis.common`): cells of a dataset and its variant (and the diagonal) are left out of
A (NaN), the ranked pairs and the index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_atlas import io
from transfer_atlas.analysis.common import mask_non_transfer
from transfer_atlas.plots import heatmap


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


def run(delta_csv: str, model: str, out: dict, roots: dict | None = None) -> pd.DataFrame:
    """Antisymmetric part, ranked pairs and heatmaps of the shared datasets."""
    square = shared_square(pd.read_csv(delta_csv, index_col="adapter"), roots)
    if len(square) < 2:
        raise io.DataError(f"{delta_csv}: asymmetry needs >= 2 datasets that are both sources and targets")
    anti = antisymmetric(square)
    pairs = ranked_pairs(square)
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
