"""prepare_data: records follow the data contract; bad data names file/row/field."""

import json

import pytest

from transfer_atlas import data, io
from transfer_atlas.tasks import load_card


def test_prepare_writes_contract_records(tmp_path):
    spec = {"name": "s3", "task": "sentiment3_imbalanced", "n_train": 40, "n_eval": 20, "seed": 0}
    counts = data.prepare(spec, tmp_path / "train.jsonl", tmp_path / "eval.jsonl")
    assert counts == {"train": 40, "eval": 20}
    rows = io.read_jsonl(tmp_path / "train.jsonl", data.RECORD_FIELDS)
    assert all(r["choices"] == [" negative", " neutral", " positive"] for r in rows)
    assert all(r["target"] == " " + r["label"] for r in rows)
    assert rows[0]["prompt"].startswith("Review: ") and rows[0]["prompt"].endswith("Answer:")


def test_mislabeled_variant_flips_train_only(tmp_path):
    base = {"name": "s", "task": "sentiment2", "n_train": 30, "n_eval": 10, "seed": 3}
    flipped = {**base, "name": "f", "mislabel": {"mode": "flip", "rate": 1.0}, "variant_splits": ["train"]}
    data.prepare(base, tmp_path / "a_train.jsonl", tmp_path / "a_eval.jsonl")
    data.prepare(flipped, tmp_path / "b_train.jsonl", tmp_path / "b_eval.jsonl")
    a, b = io.read_jsonl(tmp_path / "a_train.jsonl"), io.read_jsonl(tmp_path / "b_train.jsonl")
    assert [r["prompt"] for r in a] == [r["prompt"] for r in b]
    assert all(x["label"] != y["label"] for x, y in zip(a, b))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "id"} for r in rows]  # noqa: E731
    assert strip(io.read_jsonl(tmp_path / "a_eval.jsonl")) == strip(io.read_jsonl(tmp_path / "b_eval.jsonl"))


def test_label_outside_label_set_names_row_and_field():
    card = load_card("sentiment2")
    rows = [{"text": "fine", "label": "positive"}, {"text": "meh", "label": "so-so"}]
    with pytest.raises(io.DataError, match=r"dataset 'x' \(train split\), row 1: field 'label': 'so-so'"):
        data.to_records(rows, card, "x", "train")


def test_missing_template_field_names_row():
    card = load_card("sentiment2")
    with pytest.raises(io.DataError, match=r"row 0: missing field 'text'"):
        data.to_records([{"label": "positive"}], card, "x", "train")


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "1", "prompt": "p"}) + "\n{not json\n")
    with pytest.raises(io.DataError, match=r"bad.jsonl: line 2: invalid JSON"):
        io.read_jsonl(path)
    path.write_text(json.dumps({"id": "1", "prompt": "p"}) + "\n")
    with pytest.raises(io.DataError, match=r"bad.jsonl: line 1: missing field 'target'"):
        io.read_jsonl(path, ["id", "prompt", "target"])


def test_empty_split_is_an_error(tmp_path):
    spec = {"name": "e", "task": "sentiment2", "n_train": 4, "n_eval": 0, "seed": 0}
    with pytest.raises(io.DataError, match="dataset 'e': the eval split is empty"):
        data.prepare(spec, tmp_path / "t.jsonl", tmp_path / "e.jsonl")
    assert not (tmp_path / "t.jsonl").exists() and not (tmp_path / "e.jsonl").exists()


def test_impossible_variant_names_dataset_and_split(tmp_path):
    spec = {
        "name": "v",
        "task": "sentiment2",
        "n_train": 8,
        "n_eval": 4,
        "seed": 0,
        "class_ratio": {"positive": 1, "neutral": 1},
    }
    with pytest.raises(
        io.DataError, match=r"dataset 'v' \(train split\): class_ratio names label\(s\) \['neutral'\]"
    ):
        data.prepare(spec, tmp_path / "t.jsonl", tmp_path / "e.jsonl")


def test_profile_counts_labels_and_tokens(tmp_path, tiny_model):
    _, tok = tiny_model
    spec = {"name": "s", "task": "sentiment2", "n_train": 20, "n_eval": 10, "seed": 0}
    data.prepare(spec, tmp_path / "t.jsonl", tmp_path / "e.jsonl")
    prof = data.profile(tmp_path / "t.jsonl", tmp_path / "e.jsonl", {"tiny": tok})
    assert prof["splits"]["train"]["label_distribution"] == {"negative": 10, "positive": 10}
    assert prof["splits"]["eval"]["tokens"]["tiny"]["target"]["mean"] == pytest.approx(1.0, abs=1.0)


def test_generators_are_prefix_stable_so_train_ignores_n_eval():
    from transfer_atlas.data import build_records, split_spec
    from transfer_atlas.tasks.synthetic import GENERATORS

    for name, generate in GENERATORS.items():
        assert generate(30, 7)[:12] == generate(12, 7), name
    spec = {"name": "s", "task": "sentiment3_imbalanced", "n_train": 10, "n_eval": 4, "seed": 0, "fewshot": 2}
    assert build_records(spec)["train"] == build_records({**spec, "n_eval": 9})["train"]
    assert split_spec(spec, "train") == {k: v for k, v in spec.items() if k not in ("n_eval", "fewshot")}
    assert split_spec(spec, "eval") == spec
