"""Shared seaborn figure helpers (consistent order, titles, units): heatmap, grid of panels,
placeholder figure, KDE. Each analysis draws its own figures beside its maths."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402


def heatmap(
    frame: pd.DataFrame,
    title: str,
    xlabel: str,
    ylabel: str,
    cbar_label: str,
    center: float | None = 0.0,
    fmt: str = ".1f",
    cmap: str | None = None,
):
    """Annotated heatmap (numbers in cells up to 20x20); returns the figure."""
    rows, cols = frame.shape
    annotate = rows <= 20 and cols <= 20
    fig, ax = plt.subplots(figsize=(max(5, 0.75 * cols + 2.5), max(3.5, 0.55 * rows + 1.8)))
    sns.heatmap(
        frame.astype(float),
        annot=annotate,
        fmt=fmt,
        center=center,
        ax=ax,
        linewidths=0.5,
        cmap=cmap or ("RdBu_r" if center is not None else "viridis"),
        cbar_kws={"label": cbar_label},
        annot_kws={"size": 8},
    )
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=45)
    plt.setp(ax.get_xticklabels(), ha="right")
    ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


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


def density(ax, values, label: str, **kwargs) -> None:
    """KDE of `values`, or a vertical line where all values are equal."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return
    if np.ptp(values) == 0:
        ax.axvline(values[0], label=label, **kwargs)
    else:
        sns.kdeplot(x=values, ax=ax, label=label, warn_singular=False, cut=0, **kwargs)
