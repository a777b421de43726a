"""Similarity vs transfer: Spearman over off-diagonal pairs and the Mantel permutation test."""

import numpy as np
import pandas as pd
import pytest

from transfer_atlas.analysis import mantel

NAMES = [f"d{i}" for i in range(10)]


def random_similarity(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(10, 10))
    sim = (x + x.T) / 2
    np.fill_diagonal(sim, 1.0)
    return pd.DataFrame(sim, index=NAMES, columns=NAMES)


def test_related_matrices_give_small_p():
    sim = random_similarity(0)
    noise = np.random.default_rng(1).normal(scale=0.1, size=(10, 10))
    delta = pd.DataFrame(5 * sim.to_numpy() + noise, index=NAMES, columns=NAMES)
    result = mantel.mantel(sim, delta, permutations=999, seed=0)
    assert result["n_pairs"] == 90 and not result["exact"]
    assert result["spearman_rho"] > 0.9
    assert result["mantel_p"] == pytest.approx(1 / 1000)  # no permutation reaches rho: p = 1 / (1 + 999)


def test_independent_matrices_give_large_p():
    sim, delta = random_similarity(2), random_similarity(3)
    result = mantel.mantel(sim, delta, permutations=999, seed=0)
    assert abs(result["spearman_rho"]) < 0.2
    assert result["mantel_p"] > 0.2


def test_small_sets_are_tested_exactly_and_pairs_skip_the_diagonal():
    names = ["a", "b", "c"]
    sim = pd.DataFrame([[1, 0.9, 0.1], [0.9, 1, 0.5], [0.1, 0.5, 1]], index=names, columns=names)
    delta = pd.DataFrame([[50, 9, 1], [9, 50, 5], [1, 5, 50]], index=names, columns=names, dtype=float)
    pairs = mantel.offdiag_pairs(sim, delta)
    assert len(pairs) == 6 and (pairs.source != pairs.target).all()
    result = mantel.mantel(sim, delta, permutations=999)
    assert result["exact"] and result["permutations"] == 6
    assert result["spearman_rho"] == pytest.approx(1.0)
    # the 6 relabellings give the 6 orders of the 3 similarity values: one keeps rho = 1, one gives
    # rho = -1 (counted, two-sided) -> p = 2 / 6
    assert result["mantel_p"] == pytest.approx(2 / 6)


def test_sources_outside_the_similarity_matrix_are_ignored():
    names = ["a", "b", "c"]
    sim = pd.DataFrame(np.eye(3), index=names, columns=names)
    delta = pd.DataFrame([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], index=["a", "zz"], columns=names)
    pairs = mantel.offdiag_pairs(sim, delta)
    assert list(zip(pairs.source, pairs.target, strict=True)) == [("a", "b"), ("a", "c")]
