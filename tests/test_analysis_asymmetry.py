"""Asymmetry of transfer on a hand-made matrix."""

import numpy as np
import pandas as pd
import pytest

from transfer_atlas.analysis import asymmetry


def square() -> pd.DataFrame:
    # rows = source, columns = target; "x" is a source only, "t" a target only
    names = ["a", "b", "c"]
    m = pd.DataFrame([[10.0, 4.0, -2.0], [-6.0, 20.0, 1.0], [3.0, 1.0, 5.0]], index=names, columns=names)
    m["t"] = 0.0
    m.loc["x"] = 7.0
    return m


def test_shared_square_and_antisymmetric_part():
    m = asymmetry.shared_square(square())
    assert list(m.index) == list(m.columns) == ["a", "b", "c"]
    anti = asymmetry.antisymmetric(m)
    assert anti.loc["a", "b"] == pytest.approx(5.0)  # (4 - (-6)) / 2
    assert anti.loc["b", "a"] == pytest.approx(-5.0)
    assert anti.loc["a", "c"] == pytest.approx(-2.5)  # (-2 - 3) / 2
    assert np.isnan(np.diag(anti)).all()  # the own cell is no transfer pair (analysis.common)


def test_ranked_pairs_oriented_to_the_stronger_direction():
    pairs = asymmetry.ranked_pairs(asymmetry.shared_square(square()))
    assert pairs[["a", "b"]].values.tolist() == [["a", "b"], ["c", "a"], ["b", "c"]]
    assert pairs.asymmetry.tolist() == pytest.approx([5.0, 2.5, 0.0])
    assert pairs.sign_flip.tolist() == [True, True, False]
    assert pairs["rank"].tolist() == [1, 2, 3]


def test_asymmetry_index():
    m = asymmetry.shared_square(square())
    # off-diagonal: 4, -2, -6, 1, 3, 1 -> ||M|| = sqrt(67); A entries ±5, ±2.5, 0 -> ||A|| = sqrt(62.5)
    assert asymmetry.asymmetry_index(m) == pytest.approx(np.sqrt(62.5 / 67))
    sym = pd.DataFrame([[0.0, 2.0], [2.0, 0.0]], index=["a", "b"], columns=["a", "b"])
    assert asymmetry.asymmetry_index(sym) == 0.0
