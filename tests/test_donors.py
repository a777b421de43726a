"""Donor / recipient scores, group heatmaps and cross-model consistency on a hand-made grid."""

import numpy as np
import pandas as pd
import pytest

from tests.test_regimes import DELTA, NAMES, SETTINGS, grid_pairs
from transfer_atlas.analysis.transfer_roles import all_models, donors


def scores(frame):
    return frame.set_index("dataset")["score"].to_dict()


def test_donor_scores_exclude_the_own_cell():
    d = donors.role_scores(grid_pairs(), "donor", SETTINGS)
    assert scores(d) == pytest.approx({"A.x": 5 / 3, "A.y": 4 / 3, "B.x": 1 / 3, "B.y": 4 / 3})
    assert d["dataset"].tolist() == ["A.x", "A.y", "B.y", "B.x"]  # ranked, ties keep config order
    assert d.set_index("dataset")["rank"].to_dict() == {"A.x": 1, "A.y": 2, "B.y": 2, "B.x": 4}
    ax = d.set_index("dataset").loc["A.x"]
    assert ax["n_cells"] == 3 and ax["task"] == "A" and ax["language"] == "x"
    assert ax["se"] == pytest.approx(np.std([4, 2, -1], ddof=1) / np.sqrt(3))
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


def test_scores_by_language_and_task():
    g = donors.roles_by_group(grid_pairs(), SETTINGS)
    pick = g[(g.regime == "transfer") & (g.role == "donor") & (g.group_kind == "language")].set_index("group")
    assert pick.loc["x", "score"] == pytest.approx(1.0)  # A.x: 4, 2, -1; B.x: 1, -3, 3
    assert pick.loc["y", "score"] == pytest.approx(8 / 6)  # A.y: 6, -2, 0; B.y: -2, 5, 1
    rec = g[(g.regime == "MT-CL") & (g.role == "recipient") & (g.group_kind == "task")].set_index("group")
    assert rec.loc["A", "score"] == pytest.approx(5.0) and rec.loc["B", "score"] == pytest.approx(2.0)


def test_language_and_task_heatmaps_by_hand():
    lang = donors.group_heatmap(grid_pairs(), "language")
    assert lang.loc["x", "x"] == pytest.approx(1.5) and lang.loc["y", "y"] == pytest.approx(2.5)
    assert lang.loc["x", "y"] == pytest.approx(0.75) and lang.loc["y", "x"] == pytest.approx(0.75)
    task = donors.group_heatmap(grid_pairs(), "task")
    assert task.loc["A", "A"] == pytest.approx(5.0) and task.loc["B", "B"] == pytest.approx(2.0)
    assert task.loc["A", "B"] == pytest.approx(-0.25) and task.loc["B", "A"] == pytest.approx(0.25)


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
    assert pd.read_csv(out["language_heatmap"], index_col=0).loc["y", "y"] == pytest.approx(2.5)
    assert all(out[k].stat().st_size > 5000 for k in ("language_heatmap_png", "task_heatmap_png", "scatter"))
    allout = {k: tmp_path / f"all_{k}.csv" for k in ("regimes", "donors", "recipients", "consistency")}
    allout.update(regimes_png=tmp_path / "all_regimes.png", consistency_png=tmp_path / "all_cons.png")
    res = all_models.run(paths, SETTINGS, 0, allout)
    assert set(res["regimes"]["model"]) == {"m1", "m2", "all"}
    assert len(pd.read_csv(allout["consistency"])) == 2
    assert allout["consistency_png"].stat().st_size > 5000
