"""Seed aggregation of the matrix: mean, std (ddof=1) and standard error over seeds, by hand."""

import math

import pandas as pd
import pytest

from tests.conftest import write_score
from transfer_atlas import matrix


def long_frame() -> pd.DataFrame:
    rows = [
        ("m", "base", None, "t1", 40.0),
        ("m", "base", None, "t2", 10.0),
        ("m", "s1", 0, "t1", 50.0),
        ("m", "s1", 1, "t1", 54.0),
        ("m", "s1", 2, "t1", 58.0),
        ("m", "s1", 0, "t2", 30.0),
        ("m", "s1", 1, "t2", 36.0),  # a cell with 2 seeds
        ("m", "s2", 0, "t1", 47.0),  # a cell with 1 seed
        ("other", "base", None, "t1", 0.0),
        ("other", "s1", 0, "t1", 100.0),  # another model
    ]
    frame = pd.DataFrame(rows, columns=["model", "adapter", "seed", "target", "value"])
    base = frame[frame.adapter == "base"].set_index(["model", "target"])["value"]
    frame["delta"] = [v - base[(m, t)] for m, t, v in zip(frame.model, frame.target, frame.value)]
    return frame


def cell(stats, model, adapter, target):
    return stats.set_index(["model", "adapter", "target"]).loc[(model, adapter, target)]


def test_three_seeds_by_hand():
    c = cell(matrix.cell_stats(long_frame()), "m", "s1", "t1")
    # values 50, 54, 58: mean 54; deviations -4, 0, 4 -> variance 32 / (3 - 1) = 16 -> std 4
    assert c["n_seeds"] == 3
    assert c["value_mean"] == pytest.approx(54.0) and c["value_std"] == pytest.approx(4.0)
    assert c["value_se"] == pytest.approx(4.0 / math.sqrt(3))
    # deltas vs base 40: 10, 14, 18 -> same spread, mean 14
    assert c["delta_mean"] == pytest.approx(14.0) and c["delta_std"] == pytest.approx(4.0)
    assert c["delta_se"] == pytest.approx(2.3094011, abs=1e-6)


def test_two_seeds_and_one_seed_by_hand():
    stats = matrix.cell_stats(long_frame())
    c = cell(stats, "m", "s1", "t2")
    # 30, 36: mean 33, variance (9 + 9) / 1 = 18, std sqrt(18), se sqrt(18) / sqrt(2) = 3
    assert (c["n_seeds"], c["value_mean"], c["delta_mean"]) == (2, 33.0, 23.0)
    assert c["value_std"] == pytest.approx(math.sqrt(18)) and c["value_se"] == pytest.approx(3.0)
    one = cell(stats, "m", "s2", "t1")
    assert (one["n_seeds"], one["value_mean"], one["delta_mean"], one["delta_std"], one["delta_se"]) == (
        1,
        47,
        7,
        0,
        0,
    )


def test_base_and_models_are_kept_apart():
    stats = matrix.cell_stats(long_frame())
    base = cell(stats, "m", "base", "t1")
    assert (base["n_seeds"], base["value_mean"], base["delta_mean"]) == (1, 40.0, 0.0)
    other = cell(stats, "other", "s1", "t1")
    assert (other["n_seeds"], other["delta_mean"]) == (1, 100.0)
    assert len(stats) == 7  # (model, adapter, target) cells


def test_long_table_deltas_use_the_base_of_the_same_target(tmp_path):
    files = []
    for adapter, seed, target, value in [
        ("base", None, "t1", 40.0),
        ("base", None, "t2", 10.0),
        ("s1", 0, "t1", 50.0),
        ("s1", 1, "t1", 58.0),
        ("s1", 0, "t2", 12.0),
    ]:
        files.append(write_score(tmp_path, adapter, seed, target, value))
    long = matrix.long_table(files)
    assert long.set_index(["adapter", "seed", "target"]).loc[("s1", 1, "t1"), "delta"] == 18.0
    c = cell(matrix.cell_stats(long), "m", "s1", "t1")
    assert c["delta_mean"] == 14.0 and c["delta_std"] == pytest.approx(math.sqrt(32))
    assert c["delta_se"] == pytest.approx(4.0)  # sqrt(32) / sqrt(2)
