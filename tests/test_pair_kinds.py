"""One definition of a transfer pair: a variant evaluated on its parent never enters a
transfer statistic (summary, Mantel, length, asymmetry, regimes, donors)."""

import numpy as np
import pandas as pd
import pytest

from transfer_atlas.analysis import asymmetry, common, length, mantel, summary
from transfer_atlas.analysis.transfer_roles import donors, regimes
from transfer_atlas.analysis.transfer_roles.pairs import dataset_roles, pairs_from_cells

DATASETS = {
    "sentiment2": {"task": "sentiment2"},
    "sentiment2_mislabeled": {"task": "sentiment2", "parent": "sentiment2"},
    "sentiment2_balanced": {"task": "sentiment2", "parent": "sentiment2"},
    "arith": {"task": "arith"},
    "para": {"task": "para"},
}
ROOTS = common.dataset_roots(DATASETS)
NAMES = list(DATASETS)
VARIANT_PAIR = ("sentiment2_mislabeled", "sentiment2")
SETTINGS = {"bootstrap": 0, "positive_threshold": 0.0, "harm_threshold": 1.0}


def delta_matrix() -> pd.DataFrame:
    """Every dataset is a source and a target; the variant -> parent cell is -75 (as in LT)."""
    rng = np.random.default_rng(0)
    delta = pd.DataFrame(rng.normal(0, 3, (5, 5)).round(2), index=NAMES, columns=NAMES)
    delta.loc[VARIANT_PAIR] = -75.0
    delta.loc["sentiment2", "sentiment2_mislabeled"] = 40.0
    return delta.rename_axis("adapter")


def hand_transfer_pairs(delta):
    roots = ROOTS
    return [(s, t) for s in delta.index for t in delta.columns if roots[s] != roots[t]]


def test_pair_kind_definition():
    assert common.pair_kind("a", "a", ROOTS) == common.DIRECT
    assert common.pair_kind("a/seed3", "a", ROOTS) == common.DIRECT
    assert common.pair_kind(*VARIANT_PAIR, ROOTS) == common.VARIANT
    assert common.pair_kind("sentiment2", "sentiment2_mislabeled", ROOTS) == common.VARIANT
    assert (
        common.pair_kind("sentiment2_balanced", "sentiment2_mislabeled", ROOTS) == common.VARIANT
    )  # siblings
    assert common.pair_kind("sentiment2_mislabeled", "arith", ROOTS) == common.TRANSFER_PAIR
    assert common.dataset_roots({"a": {}, "b": {"parent": "a"}, "c": {"parent": "b"}}) == {
        "a": "a",
        "b": "a",
        "c": "a",
    }


def test_summary_transfer_section_leaves_out_variant_pairs(tmp_path):
    delta = delta_matrix()
    delta.to_csv(tmp_path / "delta.csv")
    text = "\n".join(summary.transfer_section(str(tmp_path / "delta.csv"), 30, ROOTS))
    assert "sentiment2_mislabeled → sentiment2 " not in text and "-75.0" not in text
    assert "sentiment2 → sentiment2_mislabeled" not in text
    expected = np.mean([delta.loc[p] for p in hand_transfer_pairs(delta)])
    assert f"mean transfer Δ: {expected:+.2f} points" in text
    assert f"{len(hand_transfer_pairs(delta))} pairs" in text


def test_mantel_pairs_are_transfer_pairs_only():
    delta = delta_matrix()
    x = np.random.default_rng(1).normal(size=(5, 5))
    sim = pd.DataFrame(x + x.T, index=NAMES, columns=NAMES)
    pairs = mantel.offdiag_pairs(sim, delta, ROOTS)
    assert set(zip(pairs.source, pairs.target)) == set(hand_transfer_pairs(delta))
    assert mantel.mantel(sim, delta, 99, roots=ROOTS)["n_pairs"] == len(hand_transfer_pairs(delta))


def test_length_correlations_leave_out_direct_and_variant_cells():
    delta = delta_matrix().loc[:, ["sentiment2"]]
    lengths = {("base", "sentiment2"): np.ones(3), ("reference", "sentiment2"): np.full(3, 20.0)}
    for i, source in enumerate(delta.index):
        lengths[(source, "sentiment2")] = np.full(3, 1.0 + 4 * i)
        lengths[("source_data", source)] = np.array([5.0])
    table = length.length_table(lengths, delta, ["sentiment2"], ROOTS)
    kinds = table.set_index("source")["kind"]
    assert kinds["sentiment2"] == common.DIRECT and kinds["sentiment2_mislabeled"] == common.VARIANT
    assert kinds["sentiment2_balanced"] == common.VARIANT and kinds["base"] == "base"
    corr = length.correlations(table).set_index(["target", "measure"])
    assert corr.loc[("all", "w_reference"), "n"] == 2  # arith and para only


def test_asymmetry_leaves_out_variant_pairs():
    square = asymmetry.shared_square(delta_matrix(), ROOTS)
    pairs = asymmetry.ranked_pairs(square)
    sentiment = {"sentiment2", "sentiment2_mislabeled", "sentiment2_balanced"}
    assert not any({a, b} <= sentiment for a, b in zip(pairs.a, pairs.b))
    assert len(pairs) == 10 - 3  # 5 choose 2 unordered pairs minus the 3 within the sentiment2 family
    assert np.isnan(square.loc[VARIANT_PAIR])


def test_regimes_and_donors_leave_out_variant_pairs():
    delta = delta_matrix()
    cells = pd.DataFrame(
        [
            {"adapter": s, "target": t, "n_seeds": 1, "value_mean": 50 + delta.loc[s, t]}
            | {"delta_mean": delta.loc[s, t], "delta_std": 0.0, "delta_se": 0.0}
            for s in NAMES
            for t in NAMES
        ]
    )
    pairs = pairs_from_cells(cells, dataset_roles(DATASETS), "m")
    assert pairs.set_index(["source", "target"]).loc[VARIANT_PAIR, "kind"] == common.VARIANT
    table = regimes.summarize(pairs, SETTINGS).set_index("regime")
    transfer = hand_transfer_pairs(delta)
    assert table.loc["transfer", "n_pairs"] == len(transfer)
    assert table.loc["transfer", "mean_delta"] == pytest.approx(np.mean([delta.loc[p] for p in transfer]))
    assert table.loc["MT-ML", "n_pairs"] == 5 + 6  # 5 direct cells and 6 variant-of-parent cells
    scores = donors.role_scores(pairs, "donor", SETTINGS).set_index("dataset")
    expected = np.mean([delta.loc["sentiment2_mislabeled", t] for t in ("arith", "para")])
    assert scores.loc["sentiment2_mislabeled", "score"] == pytest.approx(expected)
    assert scores.loc["sentiment2_mislabeled", "n_cells"] == 2
