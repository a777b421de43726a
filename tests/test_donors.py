"""Donor / recipient scores, group heatmaps and cross-model consistency on a hand-made grid."""

import numpy as np
import pandas as pd
import pytest

from tests.test_regimes import DELTA, NAMES, SETTINGS, grid_pairs
from transfer_atlas.analysis.transfer_roles import all_models, donors, regimes, roles


def scores(frame):
    return frame.set_index("dataset")["score"].to_dict()


def test_donor_scores_exclude_the_own_cell():
    d = donors.role_scores(grid_pairs(), "donor", SETTINGS)
    assert scores(d) == pytest.approx({"A.x": 5 / 3, "A.y": 4 / 3, "B.x": 1 / 3, "B.y": 4 / 3})
    assert d["dataset"].tolist() == ["A.x", "A.y", "B.y", "B.x"]  # ranked, ties keep config order
    assert d.set_index("dataset")["rank"].to_dict() == {"A.x": 1, "A.y": 2, "B.y": 2, "B.x": 4}
    ax = d.set_index("dataset").loc["A.x"]
    assert ax["n_cells"] == 3 and ax["task"] == "A" and ax["language"] == "x"
    assert np.isnan(ax["ci_low"]) and ax["resampling"].startswith("crossed")  # bootstrap off
    assert ax["share_positive"] == pytest.approx(2 / 3) and ax["share_harm"] == pytest.approx(1 / 3)


def test_recipient_scores_are_column_means_without_the_diagonal():
    r = donors.role_scores(grid_pairs(), "recipient", SETTINGS)
    assert scores(r) == pytest.approx({"A.x": 5 / 3, "A.y": 2.0, "B.x": 1 / 3, "B.y": 2 / 3})
    assert r.iloc[0]["dataset"] == "A.y" and r.iloc[0]["rank"] == 1
    # same thing straight from the matrix
    off = np.where(np.eye(4, dtype=bool), np.nan, DELTA)
    assert list(r.set_index("dataset").loc[NAMES, "score"]) == pytest.approx(np.nanmean(off, axis=0))


def test_scores_by_regime():
    t = donors.roles_by_regime(grid_pairs(), SETTINGS)
    d = t[(t.role == "donor") & (t.dataset == "A.x")].set_index("regime")["score"].to_dict()
    assert d == pytest.approx({"transfer": 5 / 3, "MT-CL": 4, "CT-ML": 2, "CT-CL": -1})
    assert "MT-ML" not in set(t["regime"])


def test_language_roles_from_mt_cl_and_task_roles_from_ct_ml_only():
    g = roles.group_roles(grid_pairs(), SETTINGS).set_index(["kind", "role", "group"])
    # MT-CL pairs: A.x->A.y 4, A.y->A.x 6, B.x->B.y 3, B.y->B.x 1
    assert g.loc[("language", "donor", "x"), "score"] == pytest.approx(3.5)  # 4, 3
    assert g.loc[("language", "recipient", "x"), "score"] == pytest.approx(3.5)  # 6, 1
    assert (g.xs("language")["regime"] == "MT-CL").all() and (g.xs("task")["regime"] == "CT-ML").all()
    # CT-ML pairs: A.x->B.x 2, A.y->B.y 0, B.x->A.x 1, B.y->A.y 5
    assert g.loc[("task", "donor", "A"), "score"] == pytest.approx(1.0)
    assert g.loc[("task", "donor", "B"), "score"] == pytest.approx(3.0)
    assert g.loc[("task", "recipient", "A"), "score"] == pytest.approx(3.0)
    assert (g["n_pairs"] == 2).all()


def test_role_se_across_models_by_hand():
    pairs = pd.concat([grid_pairs("m1"), grid_pairs("m2", 2 * DELTA + 1), grid_pairs("m3", -DELTA)])
    across = roles.across_models(roles.group_roles(pairs, SETTINGS)).set_index(["kind", "role", "group"])
    row = across.loc[("task", "donor", "B")]
    per_model = [3.0, (3 + 11) / 2, -3.0]  # m1: (1 + 5) / 2; m2: 2 * Δ + 1; m3: -Δ
    assert row["score"] == pytest.approx(np.mean(per_model)) and row["n_models"] == 3
    assert row["se_across_models"] == pytest.approx(np.std(per_model, ddof=1) / np.sqrt(3))


def test_heatmaps_use_the_right_regime_only_and_mask_the_diagonal():
    lang = roles.role_heatmap(grid_pairs(), "language")
    assert lang.loc["x", "y"] == pytest.approx(3.5) and lang.loc["y", "x"] == pytest.approx(3.5)
    assert np.isnan(lang.loc["x", "x"]) and np.isnan(lang.loc["y", "y"])
    task = roles.role_heatmap(grid_pairs(), "task")
    assert task.loc["A", "B"] == pytest.approx(1.0) and task.loc["B", "A"] == pytest.approx(3.0)
    assert np.isnan(task.loc["A", "A"])
    # changing every pair outside MT-CL (CT-ML) leaves the language (task) heatmap unchanged
    regime = grid_pairs()["regime"].to_numpy().reshape(4, 4)
    other = np.where(regime == "MT-CL", DELTA, 1000.0)
    pd.testing.assert_frame_equal(roles.role_heatmap(grid_pairs(delta=other), "language"), lang)
    other = np.where(regime == "CT-ML", DELTA, -1000.0)
    pd.testing.assert_frame_equal(roles.role_heatmap(grid_pairs(delta=other), "task"), task)


def test_consistency_spearman_across_models():
    pairs = pd.concat([grid_pairs("m1"), grid_pairs("m2", 2 * DELTA + 1), grid_pairs("m3", -DELTA)])
    sc = pd.concat([donors.role_scores(pairs, role, SETTINGS) for role in ("donor", "recipient")])
    c = donors.consistency(sc).set_index(["role", "model_a", "model_b"])
    assert c.loc[("donor", "m1", "m2"), "spearman_rho"] == pytest.approx(1.0)
    assert c.loc[("recipient", "m1", "m3"), "spearman_rho"] == pytest.approx(-1.0)
    assert c.loc[("donor", "m1", "m2"), "n_datasets"] == 4 and len(c) == 6


def test_consistency_needs_two_models():
    sc = donors.role_scores(grid_pairs(), "donor", SETTINGS)
    assert donors.consistency(sc).empty


def test_run_and_run_all_models_write_every_output(tmp_path):
    paths = []
    for model, delta in (("m1", DELTA), ("m2", DELTA[::-1])):
        path = tmp_path / f"{model}_pairs.csv"
        grid_pairs(model, delta).to_csv(path, index=False)
        paths.append(str(path))
    names = ["donors", "recipients", "by_regime", "by_group", "language_heatmap", "task_heatmap"]
    out = {n: tmp_path / f"{n}.csv" for n in names}
    out.update({k: tmp_path / f"{k}.png" for k in ("language_heatmap_png", "task_heatmap_png", "scatter")})
    tables = donors.run(paths[0], "m1", SETTINGS, out)
    assert scores(tables["donors"])["A.x"] == pytest.approx(5 / 3)
    assert pd.read_csv(out["language_heatmap"], index_col=0).loc["y", "x"] == pytest.approx(3.5)
    assert all(out[k].stat().st_size > 5000 for k in ("language_heatmap_png", "task_heatmap_png", "scatter"))
    allout = {k: tmp_path / f"all_{k}.csv" for k in ("regimes", "donors", "recipients", "consistency")}
    allout.update(regimes_png=tmp_path / "all_regimes.png", consistency_png=tmp_path / "all_cons.png")
    res = all_models.run(paths, SETTINGS, 0, allout)
    assert set(res["regimes"]["model"]) == {"m1", "m2", regimes.MEAN_OVER_MODELS}
    assert len(pd.read_csv(allout["consistency"])) == 2
    assert allout["consistency_png"].stat().st_size > 5000
