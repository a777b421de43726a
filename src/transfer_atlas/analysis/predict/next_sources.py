"""Which source to train next: candidates ranked by predicted gain and by what they would teach.

next_sources.csv, one row per candidate dataset (prepared and described, not trained):
  candidate, predictor (the trait model), n_targets, targets (`;`-joined target set),
  predicted_mean_gain (mean predicted Δ over the target set, points), gain_low / gain_high
  (interval at `level`, from the leave-one-source-out residuals of that mean over the
  trained sources), uncertainty_reduction (fraction of the trait model's total predictive
  variance over all candidates removed by adding this candidate to the training set:
  ridge posterior in standardised descriptors, Sherman-Morrison update), rank_gain,
  rank_uncertainty (1 = best), level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_atlas.analysis.predict.predictors import TraitModel
from transfer_atlas.analysis.predict.validation import conformal_quantile

COLUMNS = [
    "candidate", "predictor", "n_targets", "targets", "predicted_mean_gain", "gain_low", "gain_high",
    "uncertainty_reduction", "rank_gain", "rank_uncertainty", "level",
]  # fmt: skip


def uncertainty_reduction(model: TraitModel, candidates: pd.DataFrame) -> np.ndarray:
    """Per candidate: share of sum_c x_c' S x_c (S = ridge posterior covariance shape) over all
    candidates that adding that candidate's descriptors to the design would remove."""
    S = model.posterior_cov()
    Z = model.standardise(candidates)
    total = np.einsum("ij,jk,ik->", Z, S, Z)
    out = []
    for z in Z:
        Sz = S @ z
        S_new = S - np.outer(Sz, Sz) / (1.0 + z @ Sz)
        out.append((total - np.einsum("ij,jk,ik->", Z, S_new, Z)) / total if total > 0 else 0.0)
    return np.array(out)


def rank(
    matrix: pd.DataFrame,
    descriptors: pd.DataFrame,
    candidates: list[str],
    targets: list[str],
    loso: pd.DataFrame,
    n_components: int,
    level: float,
) -> pd.DataFrame:
    """The next_sources table (see module doc); `loso` = the trait model's leave-one-source-out
    predictions (source, target, observed, predicted) of the trained sources."""
    if not candidates or descriptors.shape[1] == 0 or len(matrix) < 2:
        return pd.DataFrame(columns=COLUMNS)
    targets = [t for t in targets if t in matrix.columns]
    model = TraitModel(n_components).fit(descriptors.loc[matrix.index], matrix)
    rows = model.predict(descriptors.loc[candidates])[targets]
    sub = loso[loso.target.isin(targets)]
    means = sub.groupby("source")[["observed", "predicted"]].mean()
    q = conformal_quantile((means.observed - means.predicted).to_numpy(float), level)
    gain = rows.mean(axis=1)
    table = pd.DataFrame(
        {
            "candidate": candidates,
            "predictor": "trait",
            "n_targets": len(targets),
            "targets": ";".join(targets),
            "predicted_mean_gain": gain.to_numpy(),
            "gain_low": gain.to_numpy() - q,
            "gain_high": gain.to_numpy() + q,
            "uncertainty_reduction": uncertainty_reduction(model, descriptors.loc[candidates]),
        }
    )
    table["rank_gain"] = table.predicted_mean_gain.rank(ascending=False, method="min").astype(int)
    table["rank_uncertainty"] = table.uncertainty_reduction.rank(ascending=False, method="min").astype(int)
    table["level"] = level
    return table.sort_values(["rank_gain", "rank_uncertainty"])[COLUMNS].reset_index(drop=True)
