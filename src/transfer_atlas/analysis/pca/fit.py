"""PCA maths: fit, sign convention, bootstrap alignment and intervals, naming hints.

The matrix: rows = the PCA's adapters (`row_set`), columns = targets, values = Δ vs base
in points (0-100 scale) of each target's primary metric, optionally divided per target by
its std across those adapters (`standardize`). Centring (`center`):
  adapters  columns centred on the mean of the PCA's adapters (the usual PCA, the study's):
            projections are deviations from that mean adapter, in points. Raw scores and Δ
            give the same PCA here (they differ by the base score, a constant per column).
  base      no centring: the axes pass through the base model; projections are Δ vs base
            along each axis, in points; explained variance = share of the total sum of
            squares of Δ (uncentred SVD).
Loadings are the unit-norm principal axes (target x PC); projections (adapter x PC) are
the adapters' trait profiles. Signs are fixed so that the target with the largest
|loading| loads positively. A bootstrap over evaluation examples
(paired: one resample of a target's examples is applied to every adapter and the base)
gives 95% intervals for each explained-variance ratio and loading.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import PCA

from transfer_atlas.analysis import inputs
from transfer_atlas.analysis.common import LEVEL, percentile_interval


@dataclass
class PcaResult:
    ratios: pd.Series  # explained-variance ratio per PC (fractions, sum <= 1)
    loadings: pd.DataFrame  # targets x PCs, unit-norm columns
    projections: pd.DataFrame  # adapters x PCs (trait profiles)


def pc_names(k: int) -> list[str]:
    return [f"PC{i + 1}" for i in range(k)]


CENTERS = ("adapters", "base")


def row_set(rows, sources: list[str], datasets: dict[str, dict]) -> list[str]:
    """The PCA's adapters: `main` = sources that are no variant (no `variant_of`), `all` =
    every source, or an explicit list (each must be a source)."""
    if rows == "all":
        return list(sources)
    if rows == "main":
        return [s for s in sources if not datasets.get(s, {}).get("parent")]
    unknown = [r for r in rows if r not in sources]
    if unknown:
        raise ValueError(f"config: key 'analysis.pca.rows': {unknown} are not sources")
    return list(rows)


def standardize(matrix: pd.DataFrame, scale: bool, center: str = "adapters") -> pd.DataFrame:
    """Columns centred on the adapters' mean (center `adapters`) or left as Δ vs base (`base`);
    divided by their std across adapters (ddof=0) when `scale` (constant columns kept)."""
    out = matrix - matrix.mean(axis=0) if center == "adapters" else matrix
    if not scale:
        return out
    std = matrix.std(axis=0, ddof=0).replace(0.0, 1.0)
    return out / std


def fix_signs(loadings: np.ndarray) -> np.ndarray:
    """Sign per column (+1/-1) making each column's largest |entry| positive."""
    idx = np.abs(loadings).argmax(axis=0)
    signs = np.sign(loadings[idx, np.arange(loadings.shape[1])])
    return np.where(signs == 0, 1.0, signs)


def fit_pca(
    matrix: pd.DataFrame, scale: bool = False, n_components: int | None = None, center: str = "adapters"
) -> PcaResult:
    """PCA of `matrix` (adapters x targets, Δ in points); at most min(n_adapters - 1,
    n_targets) PCs when centred on the adapters, min(n_adapters, n_targets) from the base."""
    rank = matrix.shape[0] - (center == "adapters")
    k = n_components or max(1, min(rank, matrix.shape[1]))
    x = standardize(matrix.astype(float), scale, center)
    names = pc_names(k)
    if not np.any(np.abs(x.to_numpy()) > 1e-12):  # no variance: nothing to explain
        zeros = np.zeros((matrix.shape[1], k))
        return PcaResult(
            pd.Series(0.0, index=names),
            pd.DataFrame(zeros, matrix.columns, names),
            pd.DataFrame(np.zeros((matrix.shape[0], k)), matrix.index, names),
        )
    if center == "adapters":
        pca = PCA(n_components=k, svd_solver="full").fit(x.to_numpy())
        loadings, ratios = pca.components_.T, pca.explained_variance_ratio_
    else:
        _, sv, vt = np.linalg.svd(x.to_numpy(), full_matrices=False)
        loadings, ratios = vt[:k].T, (sv**2 / np.sum(sv**2))[:k]
    signs = fix_signs(loadings)
    loadings = loadings * signs
    projections = x.to_numpy() @ loadings
    return PcaResult(
        pd.Series(ratios, index=names, name="explained_variance_ratio"),
        pd.DataFrame(loadings, index=matrix.columns, columns=names),
        pd.DataFrame(projections, index=matrix.index, columns=names),
    )


def align(reference: np.ndarray, loadings: np.ndarray) -> np.ndarray:
    """`loadings` (targets x PCs) reordered and sign-flipped to best match `reference`.

    Components are matched by maximum total |cosine| (Hungarian assignment), then each
    matched column is flipped to point the same way as its reference column.
    """
    similarity = np.abs(reference.T @ loadings)
    rows, cols = linear_sum_assignment(-similarity)
    out = loadings[:, cols[np.argsort(rows)]]
    signs = np.sign(np.sum(out * reference, axis=0))
    return out * np.where(signs == 0, 1.0, signs)


def resampled_matrices(
    tables: dict[str, pd.DataFrame], sources: list[str], use: str, n_boot: int, rng: np.random.Generator
):
    """Yield `n_boot` matrices (sources x targets, points) from resampled evaluation examples.

    `tables` maps target -> examples x adapters correctness (see inputs.correctness_table,
    columns `base` and `{source}/seed{seed}`); each target's examples are resampled once per
    replicate and the resample is shared by all adapters (paired bootstrap). `use` is
    `delta` (adapter mean over seeds - base) or `raw` (adapter mean over seeds).
    """
    cube = []
    for table in tables.values():
        n = len(table)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot) / n
        values = 100 * weights @ table.to_numpy()  # replicates x adapters
        cols = list(table.columns)
        per_source = np.column_stack(
            [
                values[:, [i for i, c in enumerate(cols) if c != "base" and inputs.source_of(c) == s]].mean(
                    axis=1
                )
                for s in sources
            ]
        )
        if use == "delta":
            per_source = per_source - values[:, [cols.index("base")]]
        cube.append(per_source)
    cube = np.stack(cube, axis=2)  # replicates x sources x targets
    for b in range(n_boot):
        yield pd.DataFrame(cube[b], index=sources, columns=list(tables))


def bootstrap(
    reference: PcaResult, matrices, scale: bool, center: str = "adapters"
) -> tuple[np.ndarray, np.ndarray]:
    """Explained-variance ratios (B x k, by rank) and aligned loadings (B x targets x k)."""
    k = len(reference.ratios)
    ratios, loadings = [], []
    for matrix in matrices:
        result = fit_pca(matrix[reference.loadings.index], scale, n_components=k, center=center)
        ratios.append(result.ratios.to_numpy())
        loadings.append(align(reference.loadings.to_numpy(), result.loadings.to_numpy()))
    return np.array(ratios), np.array(loadings)


def interval_tables(
    reference: PcaResult, ratios: np.ndarray, loadings: np.ndarray, level: float = LEVEL
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Explained variance (pc, ratio, ci_low, ci_high, cumulative) and long loadings table."""
    ev = pd.DataFrame({"pc": reference.ratios.index, "explained_variance_ratio": reference.ratios.to_numpy()})
    ev["cumulative"] = ev["explained_variance_ratio"].cumsum()
    if len(ratios):
        ev["ci_low"], ev["ci_high"] = percentile_interval(ratios, level)
    rows = []
    for j, pc in enumerate(reference.loadings.columns):
        for i, target in enumerate(reference.loadings.index):
            row = {"pc": pc, "target": target, "loading": reference.loadings.iloc[i, j]}
            if len(loadings):
                row["ci_low"], row["ci_high"] = percentile_interval(loadings[:, i, j], level)
            rows.append(row)
    return ev, pd.DataFrame(rows)


def naming_hints(loadings: pd.DataFrame, n_top: int = 3) -> dict[str, list[dict]]:
    """Per PC, the `n_top` targets with the largest |loading| (signed), strongest first."""
    hints = {}
    for pc in loadings.columns:
        top = loadings[pc].abs().sort_values(ascending=False).index[:n_top]
        hints[pc] = [{"target": t, "loading": round(float(loadings.loc[t, pc]), 4)} for t in top]
    return hints


def hint_label(hints: list[dict]) -> str:
    return ", ".join(f"{'+' if h['loading'] >= 0 else '−'}{h['target']}" for h in hints)


def units(center: str, scale: bool, n_rows: int) -> str:
    """Unit of the projections (what a trait profile's numbers mean)."""
    if scale:
        what = "from the mean adapter" if center == "adapters" else "from the base model"
        return f"standard units (Δ / std per target), {what}"
    if center == "adapters":
        return f"points: deviation from the mean of the {n_rows} adapters"
    return "points: Δ vs base"
