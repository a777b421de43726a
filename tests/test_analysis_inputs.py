"""Reading predictions into aligned correctness tables."""

import json

import pytest

from transfer_atlas.analysis import inputs
from transfer_atlas.io import DataError


def write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_cell_key_and_source():
    assert inputs.cell_key("results/predictions/m/base/t1.jsonl") == ("base", "t1")
    assert inputs.cell_key("results/predictions/m/src.a/seed3/t1.jsonl") == ("src.a/seed3", "t1")
    assert inputs.source_of("src.a/seed3") == "src.a" and inputs.source_of("base") == "base"


def test_correctness_table_aligns_ids(tmp_path):
    root = tmp_path / "results" / "predictions" / "m"
    base = write(root / "base" / "t.jsonl", [{"id": "a", "correct": True}, {"id": "b", "correct": False}])
    ada = write(
        root / "s" / "seed0" / "t.jsonl", [{"id": "b", "correct": True}, {"id": "a", "correct": False}]
    )
    grouped = inputs.group_by_target([base, ada])
    table = inputs.correctness_table(grouped["t"])
    assert list(table.columns) == ["base", "s/seed0"] and list(table.index) == ["a", "b"]
    assert table.loc["a"].tolist() == [1.0, 0.0] and table.loc["b"].tolist() == [0.0, 1.0]
    other = write(
        root / "x" / "seed0" / "t.jsonl", [{"id": "a", "correct": True}, {"id": "z", "correct": True}]
    )
    with pytest.raises(DataError, match="example ids differ"):
        inputs.correctness_table({"base": base, "x/seed0": other})
