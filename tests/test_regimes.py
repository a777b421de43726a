"""Regime labelling and regime summaries on a hand-made 2 tasks x 2 languages grid."""

import numpy as np
import pandas as pd
import pytest

from transfer_atlas.analysis.transfer_roles import pairs as pairs_table
from transfer_atlas.analysis.transfer_roles import regimes

SETTINGS = {"bootstrap": 0, "positive_threshold": 0.0, "harm_threshold": 1.0}
NAMES = ["A.x", "A.y", "B.x", "B.y"]
# rows = source, columns = target; diagonal = direct (MT-ML) cells
DELTA = np.array([[10, 4, 2, -1], [6, 12, -2, 0], [1, -3, 8, 3], [-2, 5, 1, 9]], dtype=float)
ROLES = {n: {"task": n[0], "language": n[2]} for n in NAMES}


def grid_cells(model="m", delta=DELTA) -> pd.DataFrame:
    rows = [
        {
            "model": model,
            "adapter": "base",
            "target": t,
            "n_seeds": 1,
            "value_mean": 50.0,
            "value_std": 0.0,
            "value_se": 0.0,
            "delta_mean": 0.0,
            "delta_std": 0.0,
            "delta_se": 0.0,
        }
        for t in NAMES
    ]
    for i, s in enumerate(NAMES):
        for j, t in enumerate(NAMES):
            rows.append(
                {
                    "model": model,
                    "adapter": s,
                    "target": t,
                    "n_seeds": 3,
                    "value_mean": 50 + delta[i, j],
                    "value_std": 1.0,
                    "value_se": 0.5,
                    "delta_mean": delta[i, j],
                    "delta_std": 1.0,
                    "delta_se": 0.5,
                }
            )
    return pd.DataFrame(rows)


def grid_pairs(model="m", delta=DELTA) -> pd.DataFrame:
    return pairs_table.pairs_from_cells(grid_cells(model, delta), ROLES, model)


@pytest.mark.parametrize(
    "src, tgt, expected",
    [
        (("arc", "de"), ("arc", "de"), "MT-ML"),
        (("arc", "de"), ("arc", "en"), "MT-CL"),
        (("arc", "de"), ("mmlu", "de"), "CT-ML"),
        (("arc", "de"), ("mmlu", "en"), "CT-CL"),
        (("arc", None), ("mmlu", None), "CT-ML"),
        (("arc", None), ("arc", "und"), "MT-ML"),
    ],
)
def test_regime_of_a_pair(src, tgt, expected):
    assert pairs_table.regime(*src, *tgt) == expected


def test_pairs_from_cells_labels_every_pair():
    pairs = grid_pairs()
    assert len(pairs) == 16 and "base" not in set(pairs["source"])
    table = pairs.pivot(index="source", columns="target", values="regime").loc[NAMES, NAMES]
    assert list(table.loc["A.x"]) == ["MT-ML", "MT-CL", "CT-ML", "CT-CL"]
    assert list(table.loc["B.y"]) == ["CT-CL", "CT-ML", "MT-CL", "MT-ML"]
    assert pairs["regime"].value_counts().to_dict() == {r: 4 for r in pairs_table.REGIMES}
    row = pairs.set_index(["source", "target"]).loc[("A.y", "A.x")]
    assert row["delta"] == 6 and row["value"] == 56 and row["base_value"] == 50 and row["n_seeds"] == 3


def test_dataset_roles_default_language_is_und():
    roles = pairs_table.dataset_roles(
        {
            "a.de": {"task": "arc", "language": "de"},
            "s": {"task": "sentiment2"},
            "v": {"task": "sentiment2", "parent": "s"},
        }
    )
    assert roles == {
        "a.de": {"task": "arc", "language": "de", "root": "a.de"},
        "s": {"task": "sentiment2", "language": "und", "root": "s"},
        "v": {"task": "sentiment2", "language": "und", "root": "s"},
    }


def test_summary_means_and_shares_by_hand():
    s = regimes.summarize(grid_pairs(), SETTINGS).set_index("regime")
    assert list(s.index) == ["MT-ML", "MT-CL", "CT-ML", "CT-CL", "transfer"]
    assert s.loc["MT-ML", "mean_delta"] == pytest.approx(9.75) and s.loc["MT-ML", "direct"]
    assert s.loc["MT-CL", "mean_delta"] == pytest.approx(3.5)  # 4, 6, 3, 1
    assert s.loc["CT-ML", "mean_delta"] == pytest.approx(2.0)  # 2, 0, 1, 5
    assert s.loc["CT-CL", "mean_delta"] == pytest.approx(-2.0)  # -1, -2, -3, -2
    assert s.loc["transfer", "mean_delta"] == pytest.approx(14 / 12) and s.loc["transfer", "n_pairs"] == 12
    assert s.loc["CT-ML", "share_positive"] == 0.75  # 0 is not positive
    assert s.loc["CT-CL", "share_harm"] == 1.0  # -1 counts as harm (<= -1)
    assert s.loc["CT-ML", "share_harm"] == 0.0
    assert s.loc["MT-CL", "std_delta"] == pytest.approx(np.std([4, 6, 3, 1], ddof=1))
    assert np.isnan(s.loc["MT-CL", "mean_delta_ci_low"])  # bootstrap off


def test_bootstrap_interval_brackets_the_mean_and_is_deterministic():
    pairs = grid_pairs()
    settings = {**SETTINGS, "bootstrap": 500}
    a = regimes.summarize(pairs, settings, seed=3).set_index("regime")
    b = regimes.summarize(pairs, settings, seed=3).set_index("regime")
    pd.testing.assert_frame_equal(a, b)
    for name in ("MT-CL", "transfer"):
        assert (
            a.loc[name, "mean_delta_ci_low"] <= a.loc[name, "mean_delta"] <= a.loc[name, "mean_delta_ci_high"]
        )
        assert 0 <= a.loc[name, "share_positive_ci_low"] <= a.loc[name, "share_positive_ci_high"] <= 1
    assert a.loc["CT-CL", "share_harm_ci_low"] == a.loc["CT-CL", "share_harm_ci_high"] == 1.0
    assert a["resampling"].str.startswith("crossed").all()


def test_crossed_bootstrap_weights_by_hand():
    """A pair's weight is (times its source was drawn) x (times its target was drawn)."""
    from transfer_atlas.analysis.common import crossed_weights, weighted_means

    sources, targets = ["a", "a", "b", "b"], ["x", "y", "x", "y"]
    w = crossed_weights(sources, targets, 400, np.random.default_rng(0))
    ws = w[:, [0, 2]].sum(axis=1)  # weights of target x: (count a + count b) * count x
    assert set(np.unique(w)) <= {0, 1, 2, 4} and (ws % 2 == 0).all()
    np.testing.assert_allclose(w[:, 0] * w[:, 3], w[:, 1] * w[:, 2])  # rank-1 per replicate
    # every resample of sources {a, a} and targets {y, y} gives the (a, y) value only
    means = weighted_means(np.array([[0, 4, 0, 0]]), [1.0, 7.0, 2.0, 3.0])
    assert means.tolist() == [7.0]


def test_crossed_interval_is_wider_than_pairs_when_sources_differ():
    """Pairs sharing a strong source move together: resampling sources widens the interval."""
    rng = np.random.default_rng(0)
    src = np.repeat([f"s{i}" for i in range(6)], 6)
    tgt = np.tile([f"t{i}" for i in range(6)], 6)
    delta = np.repeat(rng.normal(0, 5, 6), 6) + rng.normal(0, 0.5, 36)
    from transfer_atlas.analysis.common import (
        bootstrap_mean,
        crossed_weights,
        percentile_interval,
        weighted_means,
    )

    crossed = percentile_interval(weighted_means(crossed_weights(src, tgt, 2000, rng), delta))
    naive = percentile_interval(bootstrap_mean(delta, 2000, rng))
    assert crossed[1] - crossed[0] > 1.5 * (naive[1] - naive[0])


def test_mean_over_models_row_with_two_models():
    pairs = pd.concat([grid_pairs("m1"), grid_pairs("m2", DELTA + 2)], ignore_index=True)
    s = regimes.summarize(pairs, SETTINGS).set_index(["model", "regime"])
    assert s.loc[("m2", "MT-CL"), "mean_delta"] == pytest.approx(5.5)
    mean = regimes.MEAN_OVER_MODELS
    assert s.loc[(mean, "MT-CL"), "mean_delta"] == pytest.approx(4.5)  # (3.5 + 5.5) / 2
    # SE across models by hand: std(3.5, 5.5; ddof 1) / sqrt(2) = 1
    assert s.loc[(mean, "MT-CL"), "mean_delta_se_across_models"] == pytest.approx(1.0)
    assert s.loc[(mean, "transfer"), "n_pairs"] == 24 and s.loc[(mean, "transfer"), "n_models"] == 2


def test_run_writes_pairs_summary_and_figure(tmp_path):
    cells = tmp_path / "cells.csv"
    grid_cells().to_csv(cells, index=False)
    out = {"pairs": tmp_path / "pairs.csv", "regimes": tmp_path / "regimes.csv", "figure": tmp_path / "r.png"}
    regimes.run(str(cells), "m", ROLES, {**SETTINGS, "bootstrap": 50}, 0, out)
    back = pairs_table.read_pairs(out["pairs"])
    assert len(back) == 16 and back["source_language"].tolist()[:4] == ["x"] * 4
    assert pd.read_csv(out["regimes"]).set_index("regime").loc["MT-CL", "mean_delta"] == pytest.approx(3.5)
    assert out["figure"].stat().st_size > 5000


def test_unknown_dataset_in_cells_is_named():
    with pytest.raises(Exception, match="no task/language: \\['A.x'\\]"):
        pairs_table.pairs_from_cells(grid_cells(), {k: v for k, v in ROLES.items() if k != "A.x"}, "m")
