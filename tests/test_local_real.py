"""End to end on real data: a slice of GSM8K, IMDB, Flipkart and UCI sentences through snakemake
with the tiny model on CPU (data -> LoRA -> evaluation -> matrix)."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest

from tests.conftest import SHARED_DATA, read_json, run_snakemake, tiny_config, write_config
from transfer_atlas import io

pytestmark = pytest.mark.slow
TARGETS = ["gsm8k", "imdb", "flipkart", "uci_sentences"]
N_EVAL = {"gsm8k": 4, "imdb": 4, "flipkart": 6, "uci_sentences": 4}


def real_datasets(root) -> list[dict]:
    return [
        {
            "name": "gsm8k",
            "task": "gsm8k",
            "path": str(root / "gsm8k"),
            "n_train": 12,
            "n_eval": 4,
            "seed": 1,
        },
        {
            "name": "imdb",
            "task": "imdb",
            "path": str(root / "imdb"),
            "n_train": 12,
            "n_eval": 4,
            "seed": 2,
            "max_chars": {"text": 400},
        },
        {
            "name": "flipkart",
            "task": "flipkart",
            "path": str(root / "flipkart"),
            "n_train": 12,
            "n_eval": 6,
            "seed": 3,
        },
        {
            "name": "uci_sentences",
            "task": "uci_sentences",
            "path": str(root / "uci_sentences"),
            "n_train": 12,
            "n_eval": 4,
            "seed": 4,
        },
        {
            "name": "flipkart@balanced",
            "variant_of": "flipkart",
            "n_train": 400,
            "balance": True,
            "variant_splits": ["train"],
        },
    ]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, tiny_model_dir):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    work = tmp_path_factory.mktemp("local_real")
    cfg = tiny_config(
        tiny_model_dir, real_datasets(SHARED_DATA), sources=["gsm8k", "flipkart@balanced"], targets=TARGETS
    )
    # max_length fits every prompt + label: with a shorter one, right truncation would drop
    # the label of long reviews and a batch of only those has no loss (NaN)
    cfg["train"]["max_length"] = 256
    configfile = write_config(work / "config.yaml", cfg)
    targets = [
        "results/matrix/tiny/delta.csv",
        "results/data/imdb/profile.json",
        "results/analysis/tiny/classes/distribution_generated.csv",
        "results/data/uci_sentences/train.jsonl",  # a target only: its train split is asked for here
    ]
    run_snakemake(work, configfile, *targets)
    return work / "results"


def test_real_records_follow_the_sources(real_run):
    test_rows = [json.loads(line) for line in open(SHARED_DATA / "gsm8k" / "test.jsonl")]
    recs = [json.loads(line) for line in open(real_run / "data" / "gsm8k" / "eval.jsonl")]
    assert len(recs) == 4
    for rec in recs:
        assert rec["label"] == test_rows[rec["meta"]["row"]]["answer"].split("#### ")[-1]
        assert rec["prompt"] == f"Question: {test_rows[rec['meta']['row']]['question']}\nAnswer:"
    uci = [json.loads(line) for line in open(real_run / "data" / "uci_sentences" / "train.jsonl")]
    assert len(uci) == 12 and {r["meta"]["file"] for r in uci} <= {"amazon", "imdb", "yelp"}
    balanced = Counter(
        json.loads(line)["label"] for line in open(real_run / "data" / "flipkart@balanced" / "train.jsonl")
    )
    assert set(balanced) == {"negative", "neutral", "positive"} and len(set(balanced.values())) == 1
    prof = read_json(real_run / "data" / "imdb" / "profile.json")
    assert prof["splits"]["eval"]["label_distribution"] and prof["splits"]["train"]["n"] == 12


def test_every_cell_is_scored_with_both_label_metrics(real_run):
    for adapter in ("base", "gsm8k/seed0", "flipkart@balanced/seed0"):
        for target in TARGETS:
            score = read_json(real_run / "scores" / "tiny" / adapter / f"{target}.json")
            preds = [
                json.loads(x) for x in open(real_run / "predictions" / "tiny" / adapter / f"{target}.jsonl")
            ]
            assert score["n"] == len(preds) == N_EVAL[target]
            assert score["value"] == pytest.approx(100 * sum(p["correct"] for p in preds) / len(preds))
            if target == "gsm8k":
                assert {"exact_match_strict", "exact_match_flexible"} <= set(score["metrics"])
                continue
            assert set(score["metrics"]) == {"acc", "acc_norm", "acc_bytes", "acc_generated"}
            assert score["metrics"]["acc"] == score["value"]
            assert score["metrics"]["acc_generated"] == pytest.approx(
                100 * sum(p["correct_generated"] for p in preds) / len(preds)
            )
            assert all(p["pred_generated"] in [*score["labels"], "[invalid]"] for p in preds)


def test_matrix_covers_the_real_grid(real_run):
    matrix = pd.read_csv(real_run / "matrix" / "tiny" / "matrix.csv", index_col=0)
    assert list(matrix.columns) == TARGETS
    assert {"base", "gsm8k", "flipkart@balanced"} <= set(matrix.index)
    base = read_json(real_run / "scores" / "tiny" / "base" / "flipkart.json")
    assert matrix.loc["base", "flipkart"] == pytest.approx(base["value"])


def test_generated_label_tables_have_an_invalid_column(real_run):
    """class_generated on the real predictions: counts add up to n per adapter, [invalid] counted."""
    conf = pd.read_csv(real_run / "analysis" / "tiny" / "classes" / "confusion_generated.csv")
    assert set(conf.target) == {"imdb", "flipkart", "uci_sentences"}
    assert "[invalid]" in set(conf.predicted)
    for (target, adapter), sub in conf.groupby(["target", "adapter"]):
        preds = io.read_jsonl(
            real_run
            / "predictions"
            / "tiny"
            / ("base" if adapter == "base" else f"{adapter}/seed0")
            / f"{target}.jsonl"
        )
        assert sub["count"].sum() == len(preds)
        invalid = sum(p["pred_generated"] == "[invalid]" for p in preds)
        assert sub.loc[sub.predicted == "[invalid]", "count"].sum() == invalid
    assert (real_run / "analysis" / "tiny" / "classes" / "flipkart" / "confusion_generated.png").is_file()
