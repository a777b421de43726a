"""Latent traits: PCA of the performance matrix (rows = adapters, columns = targets).

The matrix holds points (0-100) of each target's primary metric: raw adapter scores or
deltas vs the base model, optionally standardized per target. Loadings are the unit-norm
principal axes (target x PC); projections (adapter x PC) are the adapters' trait
profiles, in points (or in standard units when standardized). Signs are fixed so that the
target with the largest |loading| loads positively. A bootstrap over evaluation examples
(paired: one resample of a target's examples is applied to every adapter and the base)
gives 95% intervals for each explained-variance ratio and loading.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import PCA

from transfer_atlas import io
from transfer_atlas.analysis import inputs

log = logging.getLogger(__name__)


@dataclass
class PcaResult:
    ratios: pd.Series  # explained-variance ratio per PC (fractions, sum <= 1)
    loadings: pd.DataFrame  # targets x PCs, unit-norm columns
    projections: pd.DataFrame  # adapters x PCs (trait profiles)


def pc_names(k: int) -> list[str]:
    return [f"PC{i + 1}" for i in range(k)]


def standardize(matrix: pd.DataFrame, scale: bool) -> pd.DataFrame:
    """Columns centred; divided by their std (ddof=0) when `scale` (constant columns kept at 0)."""
    centred = matrix - matrix.mean(axis=0)
    if not scale:
        return centred
    std = matrix.std(axis=0, ddof=0).replace(0.0, 1.0)
    return centred / std


def fix_signs(loadings: np.ndarray) -> np.ndarray:
    """Sign per column (+1/-1) making each column's largest |entry| positive."""
    idx = np.abs(loadings).argmax(axis=0)
    signs = np.sign(loadings[idx, np.arange(loadings.shape[1])])
    return np.where(signs == 0, 1.0, signs)


def fit_pca(matrix: pd.DataFrame, scale: bool = False, n_components: int | None = None) -> PcaResult:
    """PCA of `matrix` (adapters x targets); at most min(n_adapters - 1, n_targets) PCs."""
    k = n_components or max(1, min(matrix.shape[0] - 1, matrix.shape[1]))
    x = standardize(matrix.astype(float), scale)
    names = pc_names(k)
    if not np.any(np.abs(x.to_numpy()) > 1e-12):  # no variance: nothing to explain
        zeros = np.zeros((matrix.shape[1], k))
        return PcaResult(
            pd.Series(0.0, index=names),
            pd.DataFrame(zeros, matrix.columns, names),
            pd.DataFrame(np.zeros((matrix.shape[0], k)), matrix.index, names),
        )
    pca = PCA(n_components=k, svd_solver="full").fit(x.to_numpy())
    loadings = pca.components_.T
    signs = fix_signs(loadings)
    loadings = loadings * signs
    projections = x.to_numpy() @ loadings
    return PcaResult(
        pd.Series(pca.explained_variance_ratio_, index=names, name="explained_variance_ratio"),
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


def bootstrap(reference: PcaResult, matrices, scale: bool) -> tuple[np.ndarray, np.ndarray]:
    """Explained-variance ratios (B x k, by rank) and aligned loadings (B x targets x k)."""
    k = len(reference.ratios)
    ratios, loadings = [], []
    for matrix in matrices:
        result = fit_pca(matrix[reference.loadings.index], scale, n_components=k)
        ratios.append(result.ratios.to_numpy())
        loadings.append(align(reference.loadings.to_numpy(), result.loadings.to_numpy()))
    return np.array(ratios), np.array(loadings)


def interval_tables(
    reference: PcaResult, ratios: np.ndarray, loadings: np.ndarray, level: float = 0.95
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Explained variance (pc, ratio, ci_low, ci_high, cumulative) and long loadings table."""
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    ev = pd.DataFrame({"pc": reference.ratios.index, "explained_variance_ratio": reference.ratios.to_numpy()})
    ev["cumulative"] = ev["explained_variance_ratio"].cumsum()
    if len(ratios):
        ev["ci_low"], ev["ci_high"] = np.percentile(ratios, q, axis=0)
    rows = []
    for j, pc in enumerate(reference.loadings.columns):
        for i, target in enumerate(reference.loadings.index):
            row = {"pc": pc, "target": target, "loading": reference.loadings.iloc[i, j]}
            if len(loadings):
                row["ci_low"], row["ci_high"] = np.percentile(loadings[:, i, j], q)
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


def run(
    matrix_csv: str, delta_csv: str, prediction_paths: list[str], settings: dict, model: str, out: dict
) -> PcaResult:
    """Fit the PCA, bootstrap it over evaluation examples, write tables and figures."""
    from transfer_atlas.analysis import figures

    use, scale = settings["use"], settings["standardize"]
    frame = pd.read_csv(delta_csv if use == "delta" else matrix_csv, index_col="adapter")
    matrix = frame.drop(index="base", errors="ignore")
    if matrix.shape[0] < 2:
        raise io.DataError(f"{delta_csv}: PCA needs at least 2 adapters, found {matrix.shape[0]}")
    result = fit_pca(matrix, scale)
    tables = {t: inputs.correctness_table(p) for t, p in inputs.group_by_target(prediction_paths).items()}
    tables = {t: tables[t] for t in matrix.columns}
    rng = np.random.default_rng(settings["seed"])
    matrices = resampled_matrices(tables, list(matrix.index), use, settings["bootstrap"], rng)
    ratios, loadings = bootstrap(result, matrices, scale)
    ev, long = interval_tables(result, ratios, loadings)
    hints = naming_hints(result.loadings, settings["n_top"])
    io.write_csv(out["explained_variance"], ev.round(6))
    io.write_csv(out["loadings"], result.loadings.rename_axis("target").round(6), index=True)
    io.write_csv(out["loading_intervals"], long.round(6))
    io.write_csv(out["projections"], result.projections.rename_axis("adapter").round(6), index=True)
    io.write_json(
        out["naming"],
        {
            "model": model,
            "use": use,
            "standardize": scale,
            "bootstrap": settings["bootstrap"],
            "units": units(use, scale),
            "explained_variance_ratio": result.ratios.round(6).to_dict(),
            "top_targets": hints,
            "labels": {pc: hint_label(h) for pc, h in hints.items()},
        },
    )
    unit = units(use, scale)
    io.save_figure(out["scree"], figures.scree(ev, f"{model}: explained variance of the transfer matrix"))
    io.save_figure(out["loadings_heatmap"], figures.loadings_heatmap(result.loadings, long, model))
    io.save_figure(out["biplot"], figures.biplot(result, hints, model, unit))
    io.save_figure(out["profiles"], figures.profiles_heatmap(result.projections, model, unit))
    io.save_figure(out["stability"], figures.loading_stability(long, model))
    log.info("explained variance: %s", result.ratios.round(3).to_dict())
    return result


def units(use: str, scale: bool) -> str:
    if scale:
        return "standard units"
    return "points of accuracy (Δ vs base)" if use == "delta" else "points of accuracy"
