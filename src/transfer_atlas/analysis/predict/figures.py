"""Figure of the prediction analysis: predicted vs observed Δ (points), one panel per scheme."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from transfer_atlas.plots import empty, grid


def shown_predictors(validation: pd.DataFrame, scheme: str) -> list[str]:
    """The best predictor and the best baseline of a scheme (lowest pooled MAE)."""
    sub = validation[validation.scheme == scheme].groupby(["predictor", "baseline"]).mae.mean().reset_index()
    picks = [sub[sub.baseline == flag].nsmallest(1, "mae").predictor for flag in (False, True)]
    return list(dict.fromkeys(p for pick in picks for p in pick))


def predicted_vs_observed(predictions: pd.DataFrame, validation: pd.DataFrame, title: str):
    """Held-out predictions against observed Δ (points), the best predictor and the best baseline
    of each scheme, with their 90% intervals as vertical bars; diagonal = perfect prediction."""
    schemes = list(dict.fromkeys(validation.scheme))
    if predictions.empty or not schemes:
        return empty(title, "nothing was validated (too few sources, cells or models)")
    fig, axes = grid(len(schemes), 3, width=4.4, height=4.2)
    for ax, scheme in zip(axes, schemes, strict=True):
        names = shown_predictors(validation, scheme)
        sub = predictions[(predictions.scheme == scheme) & predictions.predictor.isin(names)]
        palette = dict(zip(names, sns.color_palette("colorblind", len(names)), strict=True))
        for name in reversed(names):  # the baseline first, the predictor on top
            p = sub[sub.predictor == name]
            err = np.vstack([p.predicted - p.low, p.high - p.predicted]).astype(float).clip(0)
            err = np.where(np.isfinite(err), err, 0.0)
            ax.errorbar(p.observed, p.predicted, yerr=err, fmt="o", ms=3, alpha=0.6, lw=0.5,
                        color=palette[name], label=name)  # fmt: skip
        lims = [
            np.nanmin(sub[["observed", "predicted"]].to_numpy()),
            np.nanmax(sub[["observed", "predicted"]].to_numpy()),
        ]
        ax.plot(lims, lims, color="grey", lw=0.8, ls="--")
        ax.axhline(0, color="lightgrey", lw=0.6)
        ax.axvline(0, color="lightgrey", lw=0.6)
        ax.set_title(scheme)
        ax.set_xlabel("observed Δ (points)")
        ax.set_ylabel("predicted Δ (points)")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
