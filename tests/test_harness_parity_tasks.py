"""Any lm-evaluation-harness task as a target or a source (`lm_eval_task:`), on local task
YAMLs (`dataset_path: json`), offline."""

from __future__ import annotations

import pytest
import yaml

from transfer_atlas import config, data, evaluate, harness, io, matrix
from transfer_atlas.tasks import load_card

pytest.importorskip("lm_eval")
DOCS = [
    {"question": "2 + 2", "choices": ["4", "five hundred"], "gold": 0, "answer": "4"},
    {"question": "3 + 4", "choices": ["seventy", "7"], "gold": 1, "answer": "7"},
    {"question": "1 + 1", "choices": ["2", "eleven"], "gold": 0, "answer": "2"},
    {"question": "5 + 5", "choices": ["ten", "55"], "gold": 0, "answer": "10"},
]


@pytest.fixture(scope="module")
def include(tmp_path_factory):
    """A folder with two local task YAMLs: toy_mc (multiple_choice) and toy_gen (generate_until)."""
    folder = tmp_path_factory.mktemp("harness_tasks")
    io.write_jsonl(folder / "train.jsonl", DOCS[:2])
    io.write_jsonl(folder / "test.jsonl", DOCS)
    files = {"train": str(folder / "train.jsonl"), "test": str(folder / "test.jsonl")}
    common = {"dataset_path": "json", "dataset_kwargs": {"data_files": files}, "training_split": "train"}
    common.update(test_split="test", doc_to_text="Q: {{question}}\nA:")
    mc = {"task": "toy_mc", **common, "output_type": "multiple_choice", "doc_to_choice": "choices"}
    mc.update(doc_to_target="gold", metric_list=[{"metric": "acc"}, {"metric": "acc_norm"}])
    gen = {"task": "toy_gen", **common, "output_type": "generate_until", "doc_to_target": "answer"}
    gen.update(generation_kwargs={"until": ["\n"], "max_gen_toks": 6, "do_sample": False})
    gen["metric_list"] = [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}]
    for task in (mc, gen):
        (folder / f"{task['task']}.yaml").write_text(yaml.safe_dump(task))
    return str(folder)


def spec(include, task="toy_mc", **extra):
    return {
        "name": task,
        "lm_eval_task": task,
        "lm_eval_include": include,
        "n_train": 10,
        "n_eval": 10,
        **extra,
    }


def test_dataset_entry_resolves_to_the_lm_eval_card(include):
    resolved = config.resolve_datasets({"datasets": [spec(include)]})
    assert resolved["toy_mc"]["task"] == "lm_eval"
    card = load_card("lm_eval", config.card_overrides(resolved["toy_mc"]))
    assert card.lm_eval == {"task": "toy_mc", "include": include, "split": None, "limit": 10}


def test_unknown_task_fails_with_the_closest_names(include):
    with pytest.raises(config.ConfigError, match=r"datasets.toy_mcq.lm_eval_task.*closest: toy_mc"):
        config.resolve_datasets({"datasets": [spec(include, "toy_mcq")]})


def test_harness_task_as_source_uses_its_doc_to_text_and_target(include, tmp_path):
    counts = data.prepare(spec(include), tmp_path / "train.jsonl", tmp_path / "eval.jsonl")
    assert counts == {"train": 2, "eval": 4}
    train = io.read_jsonl(tmp_path / "train.jsonl")
    assert [(r["prompt"], r["target"], r["label"]) for r in train] == [
        ("Q: 2 + 2\nA:", " 4", "4"),
        ("Q: 3 + 4\nA:", " 7", "7"),
    ]
    data.prepare(spec(include, lm_eval_split="test"), tmp_path / "t2.jsonl", tmp_path / "e2.jsonl")
    assert [r["target"] for r in io.read_jsonl(tmp_path / "t2.jsonl")] == [" 4", " 7", " 2", " ten"]


@pytest.mark.parametrize("task, n", [("toy_mc", 4), ("toy_gen", 3)])
def test_harness_task_as_target_writes_our_cell_files(tiny_model, include, tmp_path, task, n):
    """n_eval caps the documents (toy_gen: 3 of 4)."""
    model, tok = tiny_model
    entry = spec(include, task, n_eval=n)
    data.prepare(entry, tmp_path / "train.jsonl", tmp_path / "eval.jsonl")
    cell = {
        "eval_path": str(tmp_path / "eval.jsonl"),
        "card": load_card(
            "lm_eval", config.card_overrides(config.resolve_datasets({"datasets": [entry]})[task])
        ),
        "predictions": str(tmp_path / "pred.jsonl"),
        "score": str(tmp_path / "score.json"),
        "meta": {"model": "tiny", "adapter": "base", "seed": None, "target": task},
    }
    loaded = {"model": model, "tok": tok, "device": "cpu", "merged": False}
    evaluate.score_cell(loaded, {}, cell, {"batch_size": 4, "bootstrap": 50})
    rows, score = io.read_jsonl(cell["predictions"]), io.read_json(cell["score"])
    reference = harness.run(model, tok, include, [task], batch_size=4, limit=n)["results"][task]
    primary = "acc_norm" if task == "toy_mc" else "exact_match"
    assert score["metric"] == primary and score["n"] == len(rows) == n
    assert score["value"] == pytest.approx(100 * reference[f"{primary},none"])
    assert score["value"] == pytest.approx(100 * sum(r["correct"] for r in rows) / len(rows))
    assert score["ci95"][0] <= score["value"] <= score["ci95"][1]
    assert [r["prompt"] for r in rows] == [f"Q: {d['question']}\nA:" for d in DOCS[:n]]
    if task == "toy_mc":
        assert [r["gold"] for r in rows] == [d["choices"][d["gold"]] for d in DOCS]
        assert score["metrics"]["acc"] == pytest.approx(100 * reference["acc,none"])
    assert matrix.long_table([cell["score"]]).loc[0, "value"] == score["value"]  # the matrix reads it
