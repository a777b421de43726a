"""Shared seaborn figure helpers (consistent order, titles, units)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
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
