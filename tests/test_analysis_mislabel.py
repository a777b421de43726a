"""Clean vs mislabeled sources: counterparts, the comparison table and its summary line."""

import pandas as pd
import pytest

from transfer_atlas import io
from transfer_atlas.analysis import mislabel, summary

DATASETS = {
    "amazon": {"parent": None, "mislabel": None},
    "amazon_bad": {"parent": "amazon", "mislabel": {"mode": "flip", "rate": 1.0}},
    "amazon_bad_small": {"parent": "amazon_bad", "mislabel": {"mode": "flip", "rate": 1.0}},
    "amazon_bal": {"parent": "amazon", "mislabel": None},
    "gsm": {"parent": None, "mislabel": None},
}


def test_clean_counterpart_walks_past_mislabeled_ancestors():
    assert mislabel.clean_counterpart("amazon_bad", DATASETS) == "amazon"
    assert mislabel.clean_counterpart("amazon_bad_small", DATASETS) == "amazon"
    assert mislabel.clean_counterpart("amazon_bal", DATASETS) is None
    assert mislabel.clean_counterpart("gsm", DATASETS) is None
    # a variant whose clean counterpart is not a source is left out
    assert mislabel.mislabeled_pairs(DATASETS, ["amazon_bad", "gsm"]) == {}
    assert mislabel.mislabeled_pairs(DATASETS, ["amazon", "amazon_bad", "gsm"]) == {"amazon_bad": "amazon"}


def test_table_figure_and_summary_line(tmp_path):
    # the Latent Traits study's numbers: GSM8K 15.85 / 16.75, Amazon 79.50 / 4.02
    matrix = pd.DataFrame(
        {"amazon": [50.0, 79.5, 4.02, 60.0], "gsm": [9.78, 15.85, 16.75, 20.0]},
        index=pd.Index(["base", "amazon", "amazon_bad", "gsm"], name="adapter"),
    )
    matrix.to_csv(tmp_path / "matrix.csv")
    out = {"table": str(tmp_path / "t.csv"), "figure": str(tmp_path / "f.png")}
    table = mislabel.run(str(tmp_path / "matrix.csv"), DATASETS, ["amazon", "amazon_bad", "gsm"], "m", out)
    rows = table.set_index("target")
    assert rows.loc["amazon", "kind"] == "direct" and rows.loc["gsm", "kind"] == "transfer"
    assert rows.loc["amazon", "harm"] == pytest.approx(4.02 - 79.5)
    assert rows.loc["gsm", "harm"] == pytest.approx(0.9)
    assert rows.loc["gsm", "delta_mislabeled"] == pytest.approx(16.75 - 9.78)
    assert list(pd.read_csv(out["table"]).columns) == mislabel.COLUMNS
    assert (tmp_path / "f.png").stat().st_size > 5000
    line = summary.mislabel_section(out["table"])[2]
    assert line == (
        "- amazon_bad vs amazon: on amazon (own task) 79.5 → 4.0 (-75.5); "
        "on the 1 other targets mean harm +0.9, largest |harm| 0.9 on gsm"
    )
    with pytest.raises(io.DataError, match="no mislabeled variant"):
        mislabel.run(str(tmp_path / "matrix.csv"), DATASETS, ["amazon", "gsm"], "m", out)
