"""Looking inside a cell: flipped examples, counts per cell and the HTML page (known answers)."""

import pandas as pd
import pytest

from transfer_atlas import io
from transfer_atlas.analysis import flips


def frame(correct, outputs, **extra):
    n = len(correct)
    data = {
        "id": [f"e{i}" for i in range(n)],
        "prompt": [f"prompt {i}" for i in range(n)],
        "gold": ["yes"] * n,
        "output": outputs,
        "correct": correct,
        "n_output_tokens": [1] * n,
        **extra,
    }
    return pd.DataFrame(data).set_index("id")


def test_cell_flips_both_directions_with_outputs_and_lengths():
    base = frame([True, False, False, True, False], ["yes", "no", "no", "yes", "no"])
    adapter = frame([True, True, False, False, True], ["yes", "yes", "no", "no", "yes"])
    adapter["n_generated_tokens"] = [3, 7, 2, 9, 4]
    adapter["generated"] = ["yes.", "yes I think", "no", "no way", "yes"]
    out = flips.cell_flips(base, adapter.iloc[::-1])  # order of the adapter file does not matter
    assert list(out.id) == ["e1", "e3", "e4"]  # base order
    assert list(out.direction) == ["gain", "loss", "gain"]
    assert list(out.adapter_tokens) == [7, 9, 4] and list(out.base_tokens) == [1, 1, 1]
    assert list(out.adapter_generated) == ["yes I think", "no way", "yes"]
    assert list(out.base_generated) == ["", "", ""]
    assert list(out.prompt) == ["prompt 1", "prompt 3", "prompt 4"]
    counts = flips.cell_counts(base, adapter)
    assert counts == {
        "n": 5,
        "gains": 2,
        "losses": 1,
        "net": 1,
        "net_points": 20.0,
        "both_correct": 1,
        "both_wrong": 1,
    }


def test_fractional_correct_is_thresholded_and_ids_must_match():
    base = frame([0.2, 0.7, 0.5], ["a", "b", "c"])
    adapter = frame([0.6, 0.1, 0.49], ["a", "b", "c"])
    out = flips.cell_flips(base, adapter)
    assert list(zip(out.id, out.direction)) == [("e0", "gain"), ("e1", "loss"), ("e2", "loss")]
    with pytest.raises(io.DataError, match="other.jsonl: example ids differ"):
        flips.cell_flips(base, adapter.iloc[:2], "other.jsonl")


def write_cell(root, adapter, target, correct):
    rows = [
        {
            "id": i,
            "prompt": f"p{i} <b>",
            "gold": "7",
            "output": f"#### {7 if ok else 1}",
            "correct": ok,
            "n_output_tokens": 10 + i,
        }
        for i, ok in enumerate(correct)
    ]
    path = root / adapter / f"{target}.jsonl"
    io.write_jsonl(path, rows)
    return str(path)


def test_run_writes_tables_figure_and_page(tmp_path):
    plan = {  # adapter -> target -> correctness of 4 examples
        "base": {"t1": [1, 1, 0, 0], "t2": [0, 0, 0, 0]},
        "a/seed0": {"t1": [1, 0, 1, 1], "t2": [1, 0, 0, 0]},
        "b/seed1": {"t1": [0, 0, 0, 0], "t2": [1, 1, 1, 1]},
    }
    paths = [
        write_cell(tmp_path, a, t, [bool(c) for c in cs]) for a, ts in plan.items() for t, cs in ts.items()
    ]
    out = {
        k: str(tmp_path / "out" / f"{k}.{ext}")
        for k, ext in (("counts", "csv"), ("examples", "csv"), ("figure", "png"), ("page", "html"))
    }
    counts = flips.run(paths, "m", out, {"n_show": 2, "max_chars": 50})
    table = pd.read_csv(out["counts"]).set_index(["adapter", "target"])
    assert table.loc[("a/seed0", "t1"), ["gains", "losses", "net"]].tolist() == [2, 1, 1]
    assert table.loc[("b/seed1", "t2"), ["gains", "losses", "net_points"]].tolist() == [4, 0, 100.0]
    assert table.loc[("b/seed1", "t1"), ["losses", "both_wrong"]].tolist() == [2, 2]
    assert list(table.source.unique()) == ["a", "b"] and list(table.seed.unique()) == [0, 1]
    assert len(counts) == 4
    examples = pd.read_csv(out["examples"])
    assert len(examples) == 2 + 1 + 1 + 2 + 4 + 0  # a:t1 3, a:t2 1, b:t1 2, b:t2 4
    assert list(examples.columns) == flips.EXAMPLE_COLUMNS
    text = open(out["page"], encoding="utf-8").read()
    assert text.count("<option") == 4 and "b/seed1 → t2: +4 / −0" in text
    assert "first 2 of 4" in text and "p0 &lt;b&gt;" in text  # n_show and escaping
    assert (tmp_path / "out" / "figure.png").stat().st_size > 5000
