"""Output-length analysis: word counts, Wasserstein distances, correlation with delta."""

import numpy as np
import pandas as pd
import pytest

from transfer_atlas import io
from transfer_atlas.analysis import length


def test_word_counts_and_wasserstein_of_shifted_distributions():
    assert length.word_counts(["a b c", "", "one"]).tolist() == [3, 0, 1]
    a = np.array([1, 2, 3, 4])
    assert length.wasserstein(a, a + 10) == pytest.approx(10.0)  # a shift moves every unit of mass by 10
    assert length.wasserstein([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(0.25)
    assert np.isnan(length.wasserstein([], [1]))


def test_length_row():
    row = length.length_row(output=[10, 10], base=[2, 4], source=[10, 12], reference=[9, 11])
    assert row["mean_output"] == 10 and row["mean_base"] == 3 and row["mean_source"] == 11
    assert row["w_base"] == pytest.approx(7.0) and row["w_source"] == pytest.approx(1.0)
    assert row["w_reference"] == pytest.approx(1.0)


def test_table_and_correlation_with_delta():
    lengths = {("base", "t"): np.array([1.0, 1, 1]), ("reference", "t"): np.array([20.0, 20, 20])}
    delta = pd.DataFrame({"t": [30.0, 10.0, -5.0, 0.0]}, index=["s1", "s2", "s3", "s4"])
    for i, source in enumerate(delta.index):  # s1 closest to the reference lengths ... s3 farthest
        lengths[(source, "t")] = np.array([20.0 - 5 * i] * 3)
        lengths[("source_data", source)] = np.array([20.0])
    lengths[("s4", "t")] = np.array([12.0] * 3)
    table = length.length_table(lengths, delta, ["t"])
    assert list(table.source) == ["base", "s1", "s2", "s3", "s4"]
    assert table.set_index("source").loc["s2", "w_reference"] == pytest.approx(5.0)
    assert np.isnan(table.set_index("source").loc["base", "w_source"])
    corr = length.correlations(table).set_index(["target", "measure"])
    # distances 0, 5, 10, 8 vs deltas 30, 10, -5, 0: perfectly reversed ranks
    assert corr.loc[("t", "w_reference"), "rho"] == pytest.approx(-1.0)
    assert corr.loc[("all", "w_reference"), "n"] == 4


def test_interpolation_coefficient_and_source_reference_distance():
    # base answers 3 words, the source's training targets 11: an adapter at 10 words is 7/8 of the way
    row = length.length_row(output=[10, 10], base=[2, 4], source=[10, 12], reference=[9, 11])
    assert row["interpolation"] == pytest.approx(7 / 8)
    assert row["w_source_reference"] == pytest.approx(1.0)  # 10,12 vs 9,11
    assert length.interpolation(3.0, 3.0, 11.0) == 0.0 and length.interpolation(11.0, 3.0, 11.0) == 1.0
    assert length.interpolation(1.0, 3.0, 11.0) == pytest.approx(-0.25)  # shorter than the base
    assert length.interpolation(20.0, 5.0, 1.0) == pytest.approx(-3.75)  # source shorter than base
    assert np.isnan(length.interpolation(9.0, 5.0, 5.5))  # less than MIN_GAP words apart


def test_source_reference_distance_correlates_across_sources(tmp_path):
    """Planted: sources whose training answers are as long as the target's references transfer more."""
    lengths = {("base", "t"): np.array([5.0, 5]), ("reference", "t"): np.array([30.0, 30])}
    delta = pd.DataFrame({"t": [12.0, 6.0, 1.0]}, index=["close", "mid", "far"])
    for source, answer in zip(delta.index, (29.0, 20.0, 2.0), strict=True):
        lengths[("source_data", source)] = np.array([answer, answer])
        lengths[(source, "t")] = np.array([(5.0 + answer) / 2] * 2)  # halfway: interpolation 0.5
    table = length.length_table(lengths, delta, ["t"]).set_index("source")
    assert table.loc[["close", "mid", "far"], "w_source_reference"].tolist() == [1.0, 10.0, 28.0]
    assert table.loc[["close", "mid", "far"], "interpolation"].tolist() == pytest.approx([0.5] * 3)
    assert np.isnan(table.loc["base", "interpolation"])
    corr = length.correlations(table.reset_index()).set_index(["target", "measure"])
    assert corr.loc[("t", "w_source_reference"), "rho"] == pytest.approx(-1.0)
    out = {k: str(tmp_path / f"{k}.png") for k in ("interpolation", "source_reference")}
    io.save_figure(out["interpolation"], length.interpolation_heatmap(table.reset_index(), "m"))
    io.save_figure(
        out["source_reference"],
        length.source_reference_vs_delta(table.reset_index(), corr.reset_index(), "m"),
    )
    assert all((tmp_path / f"{k}.png").stat().st_size > 5000 for k in out)
