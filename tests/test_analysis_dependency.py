"""Dependency relations: presence table and success ratios against hand-computed values."""

import numpy as np
import pandas as pd
import pytest

from transfer_atlas.analysis import dependency

PARSE = [  # four prompts; tokens are [text, POS, relation]
    {"id": "p1", "sents": [[["Tom", "PROPN", "nsubj"], ["has", "VERB", "ROOT"], ["5", "NUM", "nummod"]]]},
    {"id": "p2", "sents": [[["Ann", "PROPN", "nsubj"], ["is", "AUX", "ROOT"], ["happy", "ADJ", "acomp"]]]},
    {"id": "p3", "sents": [[["Bo", "PROPN", "nsubj"], ["gets", "VERB", "ROOT"], ["2", "NUM", "nummod"]]]},
    {
        "id": "p4",
        "sents": [
            [
                ["It", "PRON", "nsubj"],
                ["made", "VERB", "ROOT"],
                ["him", "PRON", "dobj"],
                ["happy", "ADJ", "oprd"],
            ]
        ],
    },
]


def test_presence_table():
    has = dependency.presence(PARSE)
    assert list(has.columns) == ["ROOT", "acomp", "dobj", "nsubj", "nummod", "oprd"]
    assert has["nummod"].tolist() == [True, False, True, False]
    assert has["ROOT"].all()


def test_success_ratio_hand_computed():
    has = dependency.presence(PARSE)
    base = pd.Series([1.0, 0.0, 0.0, 1.0], index=has.index)
    adapter = pd.Series([1.0, 1.0, 1.0, 0.0], index=has.index)
    table = dependency.success_ratios(has, base, adapter, min_count=2, n_boot=0).set_index("relation")
    assert set(table.index) == {"ROOT", "nsubj", "nummod"}  # acomp, dobj, oprd occur once
    # nummod: prompts p1, p3 -> base 1/2, adapter 2/2 -> ratio 2.0, +50 points
    assert table.loc["nummod", "n_prompts"] == 2
    assert table.loc["nummod", "success_ratio"] == pytest.approx(2.0)
    assert table.loc["nummod", "delta_points"] == pytest.approx(50.0)
    # ROOT: all four prompts -> base 2/4, adapter 3/4 -> 1.5
    assert table.loc["ROOT", "success_ratio"] == pytest.approx(1.5)


def test_zero_base_accuracy_gives_undefined_ratio_and_bootstrap_brackets_estimate():
    has = dependency.presence(PARSE)
    base = pd.Series([0.0, 0.0, 0.0, 0.0], index=has.index)
    adapter = pd.Series([1.0, 0.0, 1.0, 0.0], index=has.index)
    table = dependency.success_ratios(has, base, adapter, min_count=2, n_boot=200)
    assert table.success_ratio.isna().all() and table.ci_low.isna().all()
    base = pd.Series([1.0, 1.0, 0.0, 1.0], index=has.index)
    table = dependency.success_ratios(has, base, adapter, min_count=4, n_boot=500, seed=1).iloc[0]
    assert table.relation == "ROOT" and table.success_ratio == pytest.approx((2 / 4) / (3 / 4))
    assert table.ci_low <= table.success_ratio <= table.ci_high


def test_missing_parse_is_an_error():
    with pytest.raises(ValueError, match="lacks 1 prompt"):
        dependency.presence(PARSE, ["p1", "p9"])
    assert np.isnan(dependency._ratio(np.array(1.0), np.array(0.0)))


def test_figure_of_an_empty_or_object_table():
    """No relation above min_count (empty, object dtype as read back) still gives a figure."""
    cols = ["source", "relation", "n_prompts", "success_ratio", "ci_low", "ci_high"]
    fig = dependency.success_ratio_figure(pd.DataFrame(columns=cols, dtype=object), 5, "m", "t")
    assert "no relation" in fig.axes[0].texts[0].get_text()
    table = pd.DataFrame(
        [["a", "nsubj", 4, 1.0, 0.5, 1.5], ["a", "oprd", 2, None, None, None]], columns=cols, dtype=object
    )
    fig = dependency.success_ratio_figure(table, 5, "m", "t")
    assert fig.axes[0].get_title() == "a adapter"
