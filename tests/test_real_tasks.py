"""Real-task loading: cards, local files of every format, the hub call path, bad data."""

import json
import re

import pytest

from transfer_atlas import data, io
from transfer_atlas.tasks import load_card
from transfer_atlas.tasks import real as real_loader

REAL_TASKS = [
    "gsm8k",
    "goat",
    "metamath",
    "magicoder",
    "flipkart",
    "amazon",
    "imdb",
    "paws",
    "mnli",
    "pile_toxicity",
    "uci_sentences",
]


def load(spec: dict) -> dict[str, list[dict]]:
    return real_loader.load_splits(spec, load_card(spec["task"]))


@pytest.mark.parametrize("task", REAL_TASKS)
def test_real_cards_are_complete(task):
    card = load_card(task)
    assert card.loader == "real" and card.max_new_tokens > 0 and card.stop
    if task != "uci_sentences":  # local-only task
        assert card.hub["id"] and {"config", "revision", "train_split", "eval_split"} <= set(card.hub)
    assert real_loader.template_fields(card) - {"label", "answer"} <= set(real_loader.field_map({}, card))
    if card.type == "classify":
        assert card.metric == "acc" and card.also_generate
        assert all(re.search(rf"\b{re.escape(label)}\b", card.template) for label in card.labels)
        assert set(card.label_map.values()) <= set(card.labels)
    else:
        assert card.answer_from or "answer" in card.fields
        assert card.metric in ("exact_match_flexible", "exact_match_strict", "rouge_l")


def test_local_folder_uses_the_cards_splits_and_caps(shared_datasets):
    spec = {
        "name": "g",
        "task": "gsm8k",
        "path": str(shared_datasets / "gsm8k"),
        "n_train": 50,
        "n_eval": 20,
        "seed": 3,
    }
    splits = load(spec)
    assert {k: len(v) for k, v in splits.items()} == {"train": 50, "eval": 20}
    assert all(r["meta"]["source"].endswith("[test]") for r in splits["eval"])
    assert all(r["meta"]["source"].endswith("[train]") for r in splits["train"])
    test_rows = [json.loads(line) for line in open(shared_datasets / "gsm8k" / "test.jsonl")]
    for row in splits["eval"]:
        original = test_rows[row["meta"]["row"]]
        assert (row["question"], row["solution"]) == (original["question"], original["answer"])
        assert row["answer"] == original["answer"].split("#### ")[-1]
    assert load(spec) == splits  # seeded
    assert load({**spec, "seed": 4})["eval"] != splits["eval"]
    assert len({r["id"] for r in splits["train"] + splits["eval"]}) == 70


def test_single_table_gets_a_seeded_holdout(shared_datasets):
    spec = {
        "name": "u",
        "task": "uci_sentences",
        "path": str(shared_datasets / "uci_sentences"),
        "n_eval": 300,
    }
    splits = load(spec)
    assert len(splits["eval"]) == 300 and len(splits["train"]) == 2700
    rows = {s: {(r["meta"]["file"], r["meta"]["row"]) for r in splits[s]} for s in splits}
    assert not rows["train"] & rows["eval"]
    assert {r["meta"]["file"] for r in splits["train"]} == {"amazon", "imdb", "yelp"}
    assert {r["label"] for r in splits["train"]} == {"negative", "positive"}
    originals = [json.loads(line) for line in open(shared_datasets / "uci_sentences" / "amazon.jsonl")]
    first = next(r for r in splits["eval"] if r["meta"]["file"] == "amazon")
    assert first["label"] == ["negative", "positive"][originals[first["meta"]["row"]]["label"]]


def test_csv_parquet_and_save_to_disk_give_the_same_rows(shared_datasets, tmp_path):
    import datasets
    import pandas as pd

    base = {"name": "i", "task": "imdb", "n_train": 30, "n_eval": 10, "seed": 1}
    expected = load({**base, "path": str(shared_datasets / "imdb")})
    frames = {s: pd.read_json(shared_datasets / "imdb" / f"{s}.jsonl", lines=True) for s in ("train", "test")}
    frames["train"].to_csv(tmp_path / "train.csv", index=False)
    frames["test"].to_parquet(tmp_path / "test.parquet")
    datasets.DatasetDict({s: datasets.Dataset.from_pandas(f) for s, f in frames.items()}).save_to_disk(
        tmp_path / "dd"
    )
    strip = lambda rows: [(r["text"], r["label"], r["meta"]["row"]) for r in rows]  # noqa: E731
    for spec in (
        {"train_path": str(tmp_path / "train.csv"), "eval_path": str(tmp_path / "test.parquet")},
        {"path": str(tmp_path / "dd")},
    ):
        got = load({**base, **spec})
        assert strip(got["train"]) == strip(expected["train"]) and strip(got["eval"]) == strip(
            expected["eval"]
        )


def test_spec_fields_label_map_and_splits_override_the_card(shared_datasets, tmp_path):
    rows = [json.loads(line) for line in open(shared_datasets / "uci_sentences" / "yelp.jsonl")]
    io.write_jsonl(
        tmp_path / "reviews.jsonl", [{"review": r["text"], "stars": 5 if r["label"] else 1} for r in rows]
    )
    spec = {
        "name": "y",
        "task": "imdb",
        "path": str(tmp_path / "reviews.jsonl"),
        "n_eval": 100,
        "fields": {"text": "review", "label": "stars"},
        "label_map": {1: "negative", 5: "positive"},
    }
    splits = load(spec)
    assert len(splits["eval"]) == 100 and len(splits["train"]) == 900
    by_text = {r["text"][:3000]: r["label"] for r in rows}
    assert all(["negative", "positive"][by_text[r["text"]]] == r["label"] for r in splits["eval"])


# --- the hub call path, served by a local `save_to_disk` dataset ---------------------------


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """Route datasets.load_dataset(id, config, split=, revision=) to local DatasetDicts."""
    import datasets

    stores, calls = {}, []

    def publish(hub_id, splits: dict[str, list[dict]]):
        folder = tmp_path / hub_id.replace("/", "__")
        datasets.DatasetDict({s: datasets.Dataset.from_list(r) for s, r in splits.items()}).save_to_disk(
            folder
        )
        stores[hub_id] = folder

    def fake_load_dataset(path, name=None, split=None, revision=None, **kwargs):
        calls.append((path, name, split, revision))
        return datasets.load_from_disk(str(stores[path]))[split]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    return publish, calls


def test_hub_loading_calls_load_dataset_with_the_cards_source(fake_hub, shared_datasets):
    publish, calls = fake_hub
    rows = {
        s: [json.loads(line) for line in open(shared_datasets / "gsm8k" / f"{f}.jsonl")][:40]
        for s, f in (("train", "train"), ("test", "test"))
    }
    publish("openai/gsm8k", rows)
    splits = load({"name": "g", "task": "gsm8k", "n_train": 10, "n_eval": 5})
    assert calls == [("openai/gsm8k", "main", "train", "main"), ("openai/gsm8k", "main", "test", "main")]
    assert len(splits["train"]) == 10 and all(
        r["meta"]["source"] == "hub:openai/gsm8k[test]" for r in splits["eval"]
    )
    calls.clear()
    splits = load(
        {"name": "g", "task": "gsm8k", "n_eval": 8, "eval_split": "train", "hub": {"revision": "abc123"}}
    )
    assert calls == [("openai/gsm8k", "main", "train", "abc123")]  # one table, held out
    assert len(splits["eval"]) == 8 and len(splits["train"]) == 32


def test_hub_where_filter_and_answer_regex(fake_hub):
    publish, _ = fake_hub
    rows = [
        {"query": f"q{i}", "response": f"steps {i}\nThe answer is: {i * 3}", "type": t}
        for i, t in enumerate(["GSM_AnsAug", "MATH_AnsAug", "GSM_SV", "MATH_FOBAR", "GSM_Rephrased"] * 4)
    ]
    publish("meta-math/MetaMathQA", {"train": rows})
    splits = load({"name": "m", "task": "metamath", "n_eval": 3, "seed": 0})
    kept = splits["train"] + splits["eval"]
    assert len(kept) == 12 and len(splits["eval"]) == 3
    assert all(rows[r["meta"]["row"]]["type"].startswith("GSM_") for r in kept)
    assert all(r["answer"] == str(r["meta"]["row"] * 3) for r in kept)


def test_label_from_score_threshold(fake_hub):
    publish, _ = fake_hub
    scores = [0.0, 0.001, 0.09, 0.1, 0.5, 0.97]
    publish(
        "tomekkorbak/pile-toxicity-balanced",
        {
            "train": [{"text": f"t{s}", "score": s} for s in scores],
            "test": [{"text": "x" * 5000, "score": 0.8}],
        },
    )
    splits = load({"name": "p", "task": "pile_toxicity"})
    assert [r["label"] for r in splits["train"]] == ["non-toxic"] * 3 + ["toxic"] * 3
    assert splits["eval"][0]["text"] == "x" * 2000  # the card caps documents at 2000 characters


# --- bad data names file, row and field ------------------------------------------------------


@pytest.mark.parametrize(
    "task, lines, fields, message",
    [
        (
            "gsm8k",
            [
                {"question": "a", "answer": "x\n#### 1"},
                {"question": "b", "answer": "#### 2"},
                {"answer": "#### 3"},
            ],
            {},
            "row 2: missing field 'question'",
        ),
        ("gsm8k", [{"question": "a", "answer": "no hashes"}], {}, "row 0: field 'solution': no match"),
        (
            "imdb",
            [{"text": "fine", "label": 1}, {"text": "odd", "label": 7}],
            {},
            "row 1: field 'label': 7 is not one of",
        ),
        (
            "flipkart",
            [{"Review": "ok", "Summary": "ok", "Sentiment": "mixed"}],
            {},
            "row 0: field 'label': 'mixed'",
        ),
        ("imdb", [{"text": "fine", "label": 1}], {"label": "stars"}, "row 0: missing field 'stars'"),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path, task, lines, fields, message):
    path = tmp_path / "bad.jsonl"
    io.write_jsonl(path, lines)
    io.write_jsonl(tmp_path / "eval.jsonl", lines)
    spec = {
        "name": "b",
        "task": task,
        "train_path": str(path),
        "eval_path": str(tmp_path / "eval.jsonl"),
        "fields": fields,
    }
    with pytest.raises(io.DataError) as err:
        load(spec)
    assert str(path) in str(err.value) and message in str(err.value)


def test_unreadable_file_and_missing_source_are_named(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": oops}\n')
    with pytest.raises(io.DataError, match="broken.jsonl: cannot be read as json"):
        load({"name": "b", "task": "imdb", "path": str(path)})
    io.write_jsonl(tmp_path / "one.jsonl", [{"text": "a", "label": 1}])
    with pytest.raises(io.DataError, match="one.jsonl: cannot hold out 1 eval rows from a table of 1 rows"):
        load({"name": "b", "task": "imdb", "path": str(tmp_path / "one.jsonl")})
    with pytest.raises(io.DataError, match="no hub dataset id"):
        load({"name": "u", "task": "uci_sentences"})
    with pytest.raises(io.DataError, match="no `path` or `eval_path` for the eval split"):
        load({"name": "u", "task": "uci_sentences", "train_path": str(tmp_path / "one.jsonl")})
    with pytest.raises(io.DataError, match="no such file or folder"):
        load({"name": "u", "task": "uci_sentences", "path": str(tmp_path / "absent")})


def test_prepare_writes_contract_records_from_real_data(shared_datasets, tmp_path):
    for task, n_eval in (("flipkart", 12), ("gsm8k", 6)):
        spec = {
            "name": task,
            "task": task,
            "path": str(shared_datasets / task),
            "n_train": 20,
            "n_eval": n_eval,
        }
        assert data.prepare(spec, tmp_path / f"{task}_train.jsonl", tmp_path / f"{task}_eval.jsonl") == {
            "train": 20,
            "eval": n_eval,
        }
    recs = io.read_jsonl(tmp_path / "flipkart_eval.jsonl", data.RECORD_FIELDS)
    assert all(
        r["choices"] == [" negative", " neutral", " positive"] and r["target"] == " " + r["label"]
        for r in recs
    )
    assert all(r["prompt"].endswith("\nSentiment:") for r in recs)
    recs = io.read_jsonl(tmp_path / "gsm8k_train.jsonl", data.RECORD_FIELDS)
    assert all(r["target"].rstrip().endswith("#### " + r["label"]) for r in recs)
    assert all(r["prompt"].startswith("Question: ") and r["prompt"].endswith("\nAnswer:") for r in recs)
