"""Matrix assembly from hand-made score files."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import write_score
from transfer_atlas import matrix


def test_assemble_mean_std_se_and_delta(tmp_path):
    files = [write_score(tmp_path, "base", None, "t1", 50.0), write_score(tmp_path, "base", None, "t2", 20.0)]
    for seed, (v1, v2) in enumerate([(60.0, 10.0), (70.0, 20.0), (80.0, 30.0)]):
        files += [write_score(tmp_path, "s1", seed, "t1", v1), write_score(tmp_path, "s1", seed, "t2", v2)]
    out = {k: tmp_path / f"{k}.csv" for k in ("long", "cells", "matrix", "delta")}
    out["heatmap"] = tmp_path / "h.png"
    delta = matrix.assemble(files, ["s1"], ["t1", "t2"], out)
    assert delta.loc["s1", "t1"] == pytest.approx(20.0) and delta.loc["s1", "t2"] == pytest.approx(0.0)
    cells = pd.read_csv(out["cells"]).set_index(["adapter", "target"])
    assert cells.loc[("s1", "t1"), "value_std"] == pytest.approx(10.0)  # ddof=1 of 60,70,80
    assert cells.loc[("s1", "t1"), "delta_se"] == pytest.approx(10.0 / np.sqrt(3))
    assert cells.loc[("s1", "t1"), "n_seeds"] == 3
    m = pd.read_csv(out["matrix"], index_col="adapter")
    assert list(m.index) == ["base", "s1"] and list(m.columns) == ["t1", "t2"]
    assert m.loc["base", "t2"] == 20.0
    assert out["heatmap"].stat().st_size > 1000


def test_missing_cell_is_an_error(tmp_path):
    files = [
        write_score(tmp_path, "base", None, "t1", 50.0),
        write_score(tmp_path, "s1", 0, "t1", 60.0),
        write_score(tmp_path, "base", None, "t2", 50.0),
    ]
    out = {k: tmp_path / f"{k}.csv" for k in ("long", "cells", "matrix", "delta")}
    out["heatmap"] = tmp_path / "h.png"
    with pytest.raises(Exception, match="missing cells"):
        matrix.assemble(files, ["s1"], ["t1", "t2"], out)
    assert not out["matrix"].exists()


def _with_settings(path: str, sha: str | None) -> str:
    import json

    score = json.loads(open(path).read())
    score["provenance"] = {"settings_sha256": sha}
    open(path, "w").write(json.dumps(score))
    return path


def test_seeds_made_with_other_settings_are_not_averaged(tmp_path):
    files = [_with_settings(write_score(tmp_path, "base", None, "t1", 50.0), "b")]
    files += [_with_settings(write_score(tmp_path, "s1", 0, "t1", 60.0), "aaa")]
    files += [_with_settings(write_score(tmp_path, "s1", 1, "t1", 70.0), "zzz")]
    out = {k: tmp_path / f"{k}.csv" for k in ("long", "cells", "matrix", "delta")}
    out |= {"heatmap": tmp_path / "h.png", "provenance": tmp_path / "provenance.json"}
    with pytest.raises(
        Exception, match=r"cell m/s1/t1: .*s1-0-t1.json \(settings aaa\); .*s1-1-t1.json \(settings zzz\)"
    ):
        matrix.assemble(files, ["s1"], ["t1"], out)
    _with_settings(files[2], "aaa")  # same settings: assembled, with a provenance file
    matrix.assemble(files, ["s1"], ["t1"], out)
    made = json.loads(out["provenance"].read_text())
    assert [c["settings_sha256"] for c in made["cells"]] == ["b", "aaa", "aaa"]
    assert made["settings_sha256"] and made["transfer_atlas"] and "commit" in made["git"]
