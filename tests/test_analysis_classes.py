"""Class distributions: fractions, TVD, confusion averages and the per-target tables."""

import pandas as pd
import pytest

from transfer_atlas import io
from transfer_atlas.analysis import classes


def score(adapter, seed, cm, labels=("negative", "positive")):
    return {
        "adapter": adapter,
        "seed": seed,
        "target": "t",
        "labels": list(labels),
        "confusion_matrix": cm,
        "gold_distribution": dict(zip(labels, [sum(r) for r in cm], strict=True)),
    }


def test_distribution_and_tvd_hand_made():
    dist = classes.distribution(classes.label_counts(["pos", "pos", "neg", "pos"]), ["neg", "neu", "pos"])
    assert dist.to_dict() == {"neg": 0.25, "neu": 0.0, "pos": 0.75}
    other = classes.distribution({"neg": 1, "pos": 1})
    assert classes.tvd(dist, other) == pytest.approx(0.25)  # 0.5 * (0.25 + 0 + 0.25)
    assert classes.tvd(dist, classes.distribution({"yes": 3})) == pytest.approx(1.0)  # disjoint labels


def test_tables_confusion_mean_over_seeds_and_shift():
    groups = {
        "base": [score("base", None, [[4, 0], [2, 4]])],
        "s1": [score("s1", 0, [[2, 2], [0, 6]]), score("s1", 1, [[0, 4], [0, 6]])],
    }
    source_dists = {"s1": classes.distribution({"negative": 1, "positive": 9})}
    delta = pd.Series({"s1": 3.0})
    conf, dist, shift = classes.tables(groups, source_dists, delta)
    s1 = conf[conf.adapter == "s1"].set_index(["gold", "predicted"])["count"]
    assert s1[("negative", "positive")] == pytest.approx(3.0)  # mean of 2 and 4
    pred = dist[(dist.adapter == "s1") & (dist.kind == "predicted")].set_index("label")["fraction"]
    assert pred.to_dict() == pytest.approx({"negative": 0.1, "positive": 0.9})  # 1 of 10, 9 of 10
    shift = shift.set_index("adapter")
    assert shift.loc["base", "tvd_pred_gold"] == pytest.approx(0.2)  # gold 0.4/0.6, predicted 0.6/0.4
    assert shift.loc["s1", "tvd_pred_gold"] == pytest.approx(0.3)  # 0.5 * (0.3 + 0.3)
    assert shift.loc["s1", "tvd_pred_source"] == pytest.approx(0.0)  # predictions copy the source's skew
    assert shift.loc["s1", "delta"] == 3.0 and pd.isna(shift.loc["base", "tvd_pred_source"])


def write_generated(path, gold, generated):
    rows = [
        {"id": i, "prompt": "p", "gold": g, "output": g, "correct": True, "pred_generated": p}
        for i, (g, p) in enumerate(zip(gold, generated, strict=True))
    ]
    io.write_jsonl(path, rows)
    return str(path)


def test_generated_labels_confusion_with_invalid_column(tmp_path):
    from transfer_atlas.analysis import summary

    gold = ["neg", "neg", "pos", "pos"]
    paths = [
        write_generated(tmp_path / "base" / "t.jsonl", gold, ["neg", "[invalid]", "pos", "[invalid]"]),
        write_generated(tmp_path / "a" / "seed0" / "t.jsonl", gold, ["pos", "pos", "pos", "pos"]),
        write_generated(tmp_path / "a" / "seed1" / "t.jsonl", gold, ["neg", "pos", "pos", "maybe"]),
    ]
    out = {
        "confusion": str(tmp_path / "conf.csv"),
        "distribution": str(tmp_path / "dist.csv"),
        "confusion_figures": [str(tmp_path / "c.png")],
        "distribution_figures": [str(tmp_path / "d.png")],
    }
    classes.run_generated(paths, {"t": ["neg", "pos"]}, "m", out)
    conf = pd.read_csv(out["confusion"]).set_index(["adapter", "gold", "predicted"])["count"]
    assert conf[("base", "neg", "[invalid]")] == 1 and conf[("base", "pos", "[invalid]")] == 1
    assert conf[("a", "neg", "pos")] == 1.5 and conf[("a", "neg", "neg")] == 0.5  # mean of 2 seeds
    assert conf[("a", "pos", "[invalid]")] == 0.5  # "maybe" is no label: invalid
    dist = pd.read_csv(out["distribution"]).set_index(["adapter", "label"])["fraction"]
    assert dist[("gold", "neg")] == 0.5 and dist[("base", "[invalid]")] == 0.5
    assert dist[("a", "pos")] == pytest.approx(6 / 8) and dist[("a", "[invalid]")] == pytest.approx(1 / 8)
    assert (tmp_path / "c.png").stat().st_size > 5000 and (tmp_path / "d.png").stat().st_size > 5000
    line = summary.generated_labels_section(out["distribution"])[2]
    assert line == "- t: base 50% invalid, neg 25%; a 12% invalid, pos 75%"
