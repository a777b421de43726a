"""PCA of the transfer matrix: planted low-rank structure, sign alignment, bootstrap."""

import numpy as np
import pandas as pd
import pytest

from transfer_atlas.analysis import pca


def planted(noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """12 adapters x 8 targets: trait 1 (scale 10) on targets t0-t3, trait 2 (scale 4) on t4-t7."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(12, 2))
    u -= u.mean(axis=0)
    u, _ = np.linalg.qr(u)  # centred, orthonormal adapter profiles
    g1 = np.r_[np.ones(4), np.zeros(4)]
    g2 = np.r_[np.zeros(4), np.ones(4)]
    x = 10 * np.outer(u[:, 0], g1) + 4 * np.outer(u[:, 1], g2) + noise * rng.normal(size=(12, 8))
    return pd.DataFrame(x, index=[f"a{i}" for i in range(12)], columns=[f"t{j}" for j in range(8)])


def test_pca_recovers_planted_traits():
    result = pca.fit_pca(planted())
    # variance of trait k = scale_k^2 * 4 targets; ratios 400/464 and 64/464
    assert result.ratios["PC1"] == pytest.approx(400 / 464, abs=1e-9)
    assert result.ratios["PC2"] == pytest.approx(64 / 464, abs=1e-9)
    assert result.ratios.iloc[2:].sum() == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(result.loadings["PC1"], [0.5] * 4 + [0.0] * 4, atol=1e-9)
    np.testing.assert_allclose(result.loadings["PC2"], [0.0] * 4 + [0.5] * 4, atol=1e-9)
    hints = pca.naming_hints(result.loadings, 4)
    assert {h["target"] for h in hints["PC1"]} == {"t0", "t1", "t2", "t3"}
    assert {h["target"] for h in hints["PC2"]} == {"t4", "t5", "t6", "t7"}


def test_pca_with_noise_and_standardization_keeps_groups():
    result = pca.fit_pca(planted(noise=0.3, seed=1), scale=True)
    assert result.ratios[["PC1", "PC2"]].sum() > 0.95
    top = {h["target"] for h in pca.naming_hints(result.loadings, 4)["PC1"]}
    assert top in ({"t0", "t1", "t2", "t3"}, {"t4", "t5", "t6", "t7"})  # scaled: both traits equal size


def test_signs_make_largest_loading_positive_and_projection_consistent():
    matrix = -planted()
    result = pca.fit_pca(matrix)
    assert result.loadings["PC1"].max() == pytest.approx(0.5)
    centred = matrix - matrix.mean()
    np.testing.assert_allclose(result.projections.to_numpy(), centred.to_numpy() @ result.loadings.to_numpy())


def test_align_undoes_permutation_and_sign_flip():
    ref = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 3)))[0]
    scrambled = ref[:, [2, 0, 1]] * np.array([-1, 1, -1])
    np.testing.assert_allclose(pca.align(ref, scrambled), ref)


def test_bootstrap_of_noiseless_cells_has_zero_width():
    # every example of a cell has the same correctness -> every resample gives the same matrix
    sources = ["s1", "s2", "s3"]
    acc = {
        "t1": {"base": 0, "s1/seed0": 1, "s2/seed0": 1, "s3/seed0": 0},
        "t2": {"base": 1, "s1/seed0": 1, "s2/seed0": 0, "s3/seed0": 0},
    }
    tables = {t: pd.DataFrame({a: [float(v)] * 10 for a, v in cols.items()}) for t, cols in acc.items()}
    matrices = list(pca.resampled_matrices(tables, sources, "delta", 20, np.random.default_rng(0)))
    assert len(matrices) == 20
    expected = pd.DataFrame({"t1": [100.0, 100.0, 0.0], "t2": [0.0, -100.0, -100.0]}, index=sources)
    pd.testing.assert_frame_equal(matrices[7], expected)
    ref = pca.fit_pca(expected)
    ratios, loadings = pca.bootstrap(ref, matrices, scale=False)
    ev, long = pca.interval_tables(ref, ratios, loadings)
    np.testing.assert_allclose(ev["ci_low"], ev["explained_variance_ratio"])
    np.testing.assert_allclose(long["ci_high"], long["loading"], atol=1e-12)


def test_bootstrap_mean_over_seeds_and_raw_scores():
    t = pd.DataFrame({"base": [1.0, 0.0], "s/seed0": [1.0, 1.0], "s/seed1": [0.0, 0.0]})
    rng = np.random.default_rng(3)
    for matrix in pca.resampled_matrices({"t": t}, ["s"], "raw", 5, rng):
        assert matrix.loc["s", "t"] == pytest.approx(50.0)  # (100 + 0) / 2 for any resample


def test_row_set_main_leaves_out_variants():
    datasets = {"a": {}, "b": {}, "a_mis": {"parent": "a"}}
    assert pca.row_set("main", ["a", "b", "a_mis"], datasets) == ["a", "b"]
    assert pca.row_set("all", ["a", "b", "a_mis"], datasets) == ["a", "b", "a_mis"]
    assert pca.row_set(["b", "a_mis"], ["a", "b", "a_mis"], datasets) == ["b", "a_mis"]
    with pytest.raises(ValueError, match="analysis.pca.rows"):
        pca.row_set(["zzz"], ["a"], datasets)


def test_center_adapters_equals_raw_and_delta_center_base_differs():
    """Centred on the adapters, raw scores and Δ give one PCA (the base is a column constant);
    centred on the base, projections are Δ along the axes (known answer on a rank-1 matrix)."""
    delta = pd.DataFrame({"t1": [2.0, 4.0, 6.0], "t2": [1.0, 2.0, 3.0]}, index=["a", "b", "c"])
    raw = delta + pd.Series({"t1": 50.0, "t2": 30.0})
    by_delta, by_raw = pca.fit_pca(delta), pca.fit_pca(raw)
    pd.testing.assert_frame_equal(by_delta.projections, by_raw.projections)
    np.testing.assert_allclose(by_delta.projections["PC1"], np.array([-1, 0, 1]) * np.sqrt(5), atol=1e-9)
    base = pca.fit_pca(delta, center="base")
    # every row is a multiple of (2, 1): one axis through the base, projection = |row|
    np.testing.assert_allclose(base.loadings["PC1"], np.array([2, 1]) / np.sqrt(5), atol=1e-9)
    np.testing.assert_allclose(base.projections["PC1"], np.array([1, 2, 3]) * np.sqrt(5), atol=1e-9)
    assert base.ratios["PC1"] == pytest.approx(1.0)
    assert "deviation from the mean of the 3 adapters" in pca.units("adapters", False, 3)
    assert pca.units("base", False, 3) == "points: Δ vs base"
