"""Asymmetry of transfer on a hand-made matrix."""

import numpy as np
import pandas as pd
import pytest

from transfer_atlas import io
from transfer_atlas.analysis import asymmetry, summary


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


def test_blocks_by_task_type_keep_transfer_pairs_only(tmp_path):
    """Planted: classification -> generation +4, generation -> classification -6; the direct
    cells (+50) and the variant -> parent cell (-70) must not enter any block."""
    names = ["cls", "cls_bad", "gen", "gen2"]
    types = {"cls": "classify", "cls_bad": "classify", "gen": "generate_number", "gen2": "generate_text"}
    roots = {"cls": "cls", "cls_bad": "cls", "gen": "gen", "gen2": "gen2"}
    d = pd.DataFrame(0.0, index=pd.Index(names, name="adapter"), columns=["cls", "gen", "gen2"])
    d.loc["cls", ["gen", "gen2"]] = [3.0, 5.0]
    d.loc["cls_bad", ["gen", "gen2"]] = [4.0, 4.0]
    d.loc[["gen", "gen2"], "cls"] = [-6.0, -6.0]
    d.loc["gen", "gen2"], d.loc["gen2", "gen"] = 2.0, 1.0
    d.loc["cls", "cls"] = d.loc["gen", "gen"] = d.loc["gen2", "gen2"] = 50.0
    d.loc["cls_bad", "cls"] = -70.0
    blocks = asymmetry.block_table(d, types, roots).set_index(["source_block", "target_block"])
    assert blocks.loc[("classification", "generation"), "mean_delta"] == pytest.approx(4.0)
    assert blocks.loc[("classification", "generation"), "n_pairs"] == 4
    assert blocks.loc[("generation", "classification"), "mean_delta"] == pytest.approx(-6.0)
    assert blocks.loc[("generation", "generation"), ["n_pairs", "mean_delta"]].tolist() == [2, 1.5]
    assert ("classification", "classification") not in blocks.index  # only cls -> cls and cls_bad -> cls
    d.to_csv(tmp_path / "delta.csv")
    out = {
        k: str(tmp_path / f"{k}.{e}")
        for k, e in (
            ("antisymmetric", "csv"),
            ("pairs", "csv"),
            ("summary", "json"),
            ("heatmap", "png"),
            ("blocks", "csv"),
            ("blocks_figure", "png"),
        )
    }
    asymmetry.run(str(tmp_path / "delta.csv"), "m", out, roots=roots, types=types)
    info = io.read_json(out["summary"])
    assert info["blocks"] == {
        "classification_to_generation": 4.0,
        "generation_to_classification": -6.0,
        "difference": 10.0,
    }
    assert (tmp_path / "blocks_figure.png").stat().st_size > 5000
    text = "\n".join(summary.asymmetry_section(out["pairs"], out["summary"], 2))
    assert "classification → generation +4.0, generation → classification -6.0 (difference +10.0)" in text


def test_blocks_without_transfer_pairs_are_empty_not_an_error():
    d = pd.DataFrame({"a": [9.0, -70.0], "a_bad": [1.0, 8.0]}, index=pd.Index(["a", "a_bad"], name="adapter"))
    blocks = asymmetry.block_table(d, {"a": "classify", "a_bad": "classify"}, {"a": "a", "a_bad": "a"})
    assert blocks.empty and list(blocks.columns)[:3] == ["source_block", "target_block", "n_pairs"]
    assert np.isnan(asymmetry.block_asymmetry(blocks)["difference"])
    asymmetry.block_heatmap(blocks, "m")  # a placeholder figure
