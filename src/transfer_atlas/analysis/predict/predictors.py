"""Predictors of Δ cells (points): baselines, the trait model, matrix completion, cross-model.

Matrices are sources x targets DataFrames of Δ vs base in points; NaN = not observed (or not
a transfer pair). Descriptors are sources x features DataFrames (see `descriptors`).

Row predictors (a new source's whole row, before it is trained) take the training matrix,
the training sources' descriptors and the new source's descriptors:
  target_mean      mean of each target over the observed sources
  nearest_{sim}    the row of the training source most similar to the new one
  trait            the trait model: PCA of the training rows (trait profiles = projections),
                   profiles regressed on descriptors (ridge, alpha and the number of profiles
                   by leave-one-out on the training sources only), row = mean row +
                   predicted profile x loadings
Cell predictors (a missing cell of a partly observed matrix):
  target_mean      mean of the target's column over the other observed sources
  additive         mean + source effect + target effect, each shrunk towards 0
  nearest_{sim}    the most similar source's value at that target
  completion       low-rank matrix completion (iterative rank-k SVD imputation)
  cross_model      the same cell in other models' matrices, mapped linearly onto this model
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV

ALPHAS = np.logspace(-3, 4, 29)
BASELINES = ("target_mean", "additive", "nearest")


def is_baseline(name: str) -> bool:
    """Baselines are the target mean, the additive model and every nearest-source predictor."""
    return name in BASELINES or name.startswith("nearest_")


def column_means(matrix: pd.DataFrame) -> pd.Series:
    """Per-target mean over observed sources (0 where a column has none)."""
    return matrix.mean(axis=0).fillna(0.0)


def filled(matrix: pd.DataFrame) -> pd.DataFrame:
    """Missing cells replaced by their column mean."""
    return matrix.fillna(column_means(matrix))


def choose_components(Z: np.ndarray, Y: np.ndarray, most: int, alphas=ALPHAS) -> int:
    """Trait profiles to keep (1..most): the k minimising the leave-one-out squared error of a
    training row, sum over kept profiles of the ridge's LOO error + sum over dropped profiles
    of their variance (what predicting them by their mean costs). Training rows only."""
    m = max(1, min(most, Y.shape[0] - 1, Y.shape[1]))
    if m == 1:
        return 1
    P = PCA(n_components=m).fit_transform(Y)
    ridge = RidgeCV(alphas=alphas, alpha_per_target=True, store_cv_results=True).fit(Z, P)
    loo = ridge.cv_results_.mean(axis=0).min(axis=-1)  # per profile, at its best alpha
    dropped = (P**2).mean(axis=0)
    costs = [loo[:k].sum() + dropped[k:].sum() for k in range(1, m + 1)]
    return int(np.argmin(costs)) + 1


class TraitModel:
    """Trait profiles (PCA projections of the rows) regressed on standardised descriptors;
    at most `n_components` profiles, as many as `choose_components` finds worth predicting.

    `map_` (features x targets) is the fitted linear map in descriptor units: a source with
    descriptors x gets row `intercept_ + x @ map_` (points)."""

    def __init__(self, n_components: int = 8, alphas=ALPHAS):
        self.n_components, self.alphas = n_components, alphas

    def fit(self, descriptors: pd.DataFrame, matrix: pd.DataFrame) -> TraitModel:
        Y = filled(matrix).to_numpy(float)
        X = descriptors.loc[matrix.index].to_numpy(float)
        self.columns, self.features = list(matrix.columns), list(descriptors.columns)
        self.x_mean, self.x_std = X.mean(0), X.std(0)
        self.x_std[self.x_std == 0] = 1.0
        Z = (X - self.x_mean) / self.x_std
        k = choose_components(Z, Y, self.n_components, self.alphas)
        self.k_ = k
        self.pca = PCA(n_components=k).fit(Y)
        profiles = self.pca.transform(Y)
        self.ridge = RidgeCV(alphas=self.alphas).fit(Z, profiles)
        # Row = pca.mean_ + (Z @ coef.T + b) @ components  ->  linear in x
        coef = np.reshape(self.ridge.coef_, (k, -1))  # one profile: sklearn returns 1-D
        self.map_ = (coef.T @ self.pca.components_) / self.x_std[:, None]
        intercept = np.reshape(self.ridge.intercept_, (k,))
        self.intercept_ = self.pca.mean_ + intercept @ self.pca.components_ - self.x_mean @ self.map_
        self.z_train = Z
        return self

    def predict(self, descriptors: pd.DataFrame) -> pd.DataFrame:
        X = descriptors[self.features].to_numpy(float)
        return pd.DataFrame(self.intercept_ + X @ self.map_, index=descriptors.index, columns=self.columns)

    def posterior_cov(self) -> np.ndarray:
        """(Z'Z + alpha I)^-1 of the fitted ridge (standardised descriptors): the shape of the
        coefficients' uncertainty, used to rank candidate sources."""
        Z = self.z_train
        return np.linalg.inv(Z.T @ Z + self.ridge.alpha_ * np.eye(Z.shape[1]))

    def standardise(self, descriptors: pd.DataFrame) -> np.ndarray:
        return (descriptors[self.features].to_numpy(float) - self.x_mean) / self.x_std


def nearest_row(matrix: pd.DataFrame, similarity: pd.Series) -> pd.Series:
    """Row of the training source with the highest similarity (ties: first in matrix order)."""
    sims = similarity.reindex(matrix.index).astype(float)
    if sims.isna().all():
        return column_means(matrix)
    return matrix.loc[sims.idxmax()].fillna(column_means(matrix))


def predict_rows(
    matrix: pd.DataFrame, descriptors: pd.DataFrame, new: pd.DataFrame, similarities: dict, n_components: int
) -> dict[str, pd.DataFrame]:
    """{predictor: rows of the `new` sources} from the trained rows of `matrix` (see module doc).
    `similarities` maps a name to a datasets x datasets similarity frame."""
    out = {"target_mean": pd.DataFrame([column_means(matrix)] * len(new), index=new.index)}
    for name, sim in similarities.items():
        out[f"nearest_{name}"] = pd.DataFrame(
            [nearest_row(matrix, sim.loc[s].drop(s, errors="ignore")) for s in new.index], index=new.index
        )
    if descriptors.shape[1]:
        out["trait"] = TraitModel(n_components).fit(descriptors, matrix).predict(new)
    return out


# --- cell predictors ------------------------------------------------------------------------------


def additive_fit(matrix: pd.DataFrame, shrinkage: float, iterations: int = 50) -> tuple:
    """(mean, source effects, target effects) of observed cells, effects shrunk: effect =
    sum of residuals / (n observed + shrinkage)."""
    Y = matrix.to_numpy(float)
    obs = ~np.isnan(Y)
    mu = np.nanmean(Y) if obs.any() else 0.0
    a, b = np.zeros(Y.shape[0]), np.zeros(Y.shape[1])
    R = np.where(obs, Y - mu, 0.0)
    for _ in range(iterations):
        a = np.where(obs, R - b[None, :], 0.0).sum(1) / (obs.sum(1) + shrinkage)
        b = np.where(obs, R - a[:, None], 0.0).sum(0) / (obs.sum(0) + shrinkage)
    return mu, pd.Series(a, index=matrix.index), pd.Series(b, index=matrix.columns)


def complete(matrix: pd.DataFrame, rank: int, iterations: int = 200, tol: float = 1e-6) -> pd.DataFrame:
    """Missing cells filled by iterative rank-`rank` SVD imputation (columns centred, observed
    cells kept); starts from the column means."""
    Y = matrix.to_numpy(float)
    obs = ~np.isnan(Y)
    mean = np.nan_to_num(np.nanmean(np.where(obs.any(0), Y, 0.0), axis=0))
    Z = np.where(obs, Y, mean[None, :])
    rank = max(1, min(rank, min(Y.shape) - 1))
    for _ in range(iterations):
        centre = Z.mean(0)
        U, s, Vt = np.linalg.svd(Z - centre, full_matrices=False)
        low = centre + (U[:, :rank] * s[:rank]) @ Vt[:rank]
        new = np.where(obs, Y, low)
        if np.max(np.abs(new - Z)) < tol:
            Z = new
            break
        Z = new
    return pd.DataFrame(np.where(obs, Y, Z), index=matrix.index, columns=matrix.columns)


def cross_model_map(own: pd.DataFrame, others: pd.DataFrame) -> tuple[float, float]:
    """(intercept, slope) of this model's observed cells on the other models' mean at the same
    cells (least squares); (0, 1) when fewer than 3 shared cells."""
    both = own.stack().to_frame("y").join(others.stack().rename("x"), how="inner").dropna()
    if len(both) < 3 or both.x.std() == 0:
        return 0.0, 1.0
    slope, intercept = np.polyfit(both.x, both.y, 1)
    return float(intercept), float(slope)


def predict_cell(
    matrix: pd.DataFrame, source: str, target: str, similarities: dict, settings: dict, others=None
) -> dict[str, float]:
    """{predictor: value} of the (source, target) cell of `matrix` (that cell must be NaN).
    `others` = mean Δ matrix of the other models (same names), or None."""
    column = matrix[target].drop(source)
    out = {"target_mean": float(column.mean()) if column.notna().any() else 0.0}
    mu, a, b = additive_fit(matrix, settings["shrinkage"])
    out["additive"] = float(mu + a[source] + b[target])
    for name, sim in similarities.items():
        cands = sim.loc[source].drop(source, errors="ignore").reindex(column.dropna().index).dropna()
        out[f"nearest_{name}"] = float(column[cands.idxmax()]) if len(cands) else out["target_mean"]
    out["completion"] = float(complete(matrix, settings["rank"]).loc[source, target])
    if others is not None:
        x = others.reindex(index=matrix.index, columns=matrix.columns)
        if not np.isnan(x.loc[source, target]):
            intercept, slope = cross_model_map(matrix, x)
            out["cross_model"] = intercept + slope * float(x.loc[source, target])
    return out
