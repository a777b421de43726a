"""Evaluation: fast paths give the naive path's numbers; outputs are atomic and deterministic."""

from __future__ import annotations

import json
import os

import pytest
import torch

from tests.conftest import sigkill_at_marker
from transfer_atlas import data, evaluate, io, scoring
from transfer_atlas.generation import greedy_generate
from transfer_atlas.tasks import load_card
from transfer_atlas.train import train_lora

EVAL_CFG = {
    "batch_size": 4,
    "merge_adapter": True,
    "sort_by_length": True,
    "continuous_batching": True,
    "trim_logits": True,
    "shared_prefix": True,
    "bootstrap": 50,
    "max_eval": None,
}
TRAIN_CFG = {
    "r": 4,
    "alpha": 8,
    "dropout": 0.0,
    "target_modules": ["q_proj", "v_proj", "gate_proj"],
    "lr": 0.01,
    "weight_decay": 0.0,
    "warmup_steps": 1,
    "steps": 4,
    "batch_size": 4,
    "max_length": 96,
    "batching": "bucketed",
    "checkpoint_every": 0,
    "grad_clip": 1.0,
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("eval")
    for task in ("sentiment3_imbalanced", "arith_small"):
        spec = {"name": task, "task": task, "n_train": 16, "n_eval": 10, "seed": 1}
        data.prepare(spec, folder / f"{task}_train.jsonl", folder / f"{task}_eval.jsonl")
    info = {"name": "tiny", "load_path": str(tiny_model_dir)}
    train_lora(
        info,
        str(folder / "arith_small_train.jsonl"),
        str(folder / "adapter"),
        str(folder / "ck"),
        TRAIN_CFG,
        "arith_small",
        0,
    )
    return folder, info


def _cell(setup, task, cfg, tag, adapter=True):
    folder, info = setup
    return evaluate.evaluate_cell(
        info,
        str(folder / "adapter") if adapter else None,
        str(folder / f"{task}_eval.jsonl"),
        load_card(task),
        cfg,
        str(folder / f"{tag}.jsonl"),
        str(folder / f"{tag}.json"),
        {"model": "tiny", "adapter": "a", "seed": 0, "target": task},
        "float32",
    )


@pytest.mark.parametrize("task", ["sentiment3_imbalanced", "arith_small"])
def test_fast_path_equals_naive_path(setup, task):
    fast = _cell(setup, task, EVAL_CFG, f"fast_{task}")
    naive_cfg = {
        **EVAL_CFG,
        "batch_size": 1,
        "merge_adapter": False,
        "sort_by_length": False,
        "continuous_batching": False,
        "trim_logits": False,
        "shared_prefix": False,
    }
    naive = _cell(setup, task, naive_cfg, f"naive_{task}")
    folder = setup[0]
    a = io.read_jsonl(folder / f"fast_{task}.jsonl")
    b = io.read_jsonl(folder / f"naive_{task}.jsonl")
    assert [r["output"] for r in a] == [r["output"] for r in b]
    if "logprobs" in a[0]:
        for x, y in zip(a, b):
            assert x["logprobs"] == pytest.approx(y["logprobs"], abs=1e-4)
    assert fast["value"] == naive["value"] and fast["merged_adapter"] and not naive["merged_adapter"]


def test_shared_prefix_equals_full_sequence_scoring(tiny_model):
    model, tok = tiny_model
    prompts = ["Review: great\nAnswer:", "Review: the kettle is slow and noisy\nAnswer:"]
    choices = [[" negative", " neutral", " positive"]] * 2
    shared = scoring.choice_logprobs(model, tok, prompts, choices, batch_size=2, shared_prefix=True)
    full = scoring.choice_logprobs(model, tok, prompts, choices, batch_size=1, shared_prefix=False)
    assert torch.tensor(shared) == pytest.approx(torch.tensor(full), abs=1e-5)


def test_generation_is_batch_invariant(tiny_model):
    model, tok = tiny_model
    prompts = [f"Question: What is {i} + {2 * i}?\nAnswer:" for i in range(1, 7)]
    one = greedy_generate(model, tok, prompts, 8, batch_size=1, sort_by_length=False)
    many = greedy_generate(model, tok, prompts, 8, batch_size=6)
    assert one == many


def test_scores_are_deterministic_except_timing(setup):
    a = _cell(setup, "sentiment3_imbalanced", EVAL_CFG, "det_a")
    b = _cell(setup, "sentiment3_imbalanced", EVAL_CFG, "det_b")
    drop = lambda s: {k: v for k, v in s.items() if k != "elapsed_s"}  # noqa: E731
    assert drop(a) == drop(b)
    folder = setup[0]
    assert (folder / "det_a.jsonl").read_text() == (folder / "det_b.jsonl").read_text()


KILL_SCRIPT = """
import json, sys, time
import transfer_atlas.evaluate as ev
from transfer_atlas.tasks import load_card
orig = ev.predict_generation
def slow(*a, **k):
    print("STARTED", flush=True)
    time.sleep(60)
ev.predict_generation = slow
info, adapter, path, out = json.loads(sys.argv[1])
cfg = {"batch_size": 4, "merge_adapter": True, "sort_by_length": True, "continuous_batching": True, "trim_logits": True, "shared_prefix": True, "bootstrap": 10, "max_eval": None}
ev.evaluate_cell(info, adapter, path, load_card("arith_small"), cfg, out + ".jsonl", out + ".json", {"adapter": "a", "target": "t"})
"""


def test_killed_evaluation_leaves_no_score_file(setup):
    folder, info = setup
    out = str(folder / "killed")
    args = json.dumps([info, str(folder / "adapter"), str(folder / "arith_small_eval.jsonl"), out])
    sigkill_at_marker(KILL_SCRIPT, args, "STARTED")
    assert not os.path.exists(out + ".json") and not os.path.exists(out + ".jsonl")
    assert not [p for p in os.listdir(folder) if p.startswith(".killed")]


def test_row_job_equals_cell_jobs(setup):
    """evaluate_row (one load, many targets) writes the same cells as one evaluate_cell each."""
    folder, info = setup
    tasks = ("sentiment3_imbalanced", "arith_small")
    cells = [
        {
            "eval_path": str(folder / f"{task}_eval.jsonl"),
            "card": load_card(task),
            "predictions": str(folder / f"row_{task}.jsonl"),
            "score": str(folder / f"row_{task}.json"),
            "meta": {"model": "tiny", "adapter": "a", "seed": 0, "target": task},
        }
        for task in tasks
    ]
    rows = evaluate.evaluate_row(info, str(folder / "adapter"), cells, EVAL_CFG, "float32")
    for task, row in zip(tasks, rows, strict=True):
        cell = _cell(setup, task, EVAL_CFG, f"cell_{task}")
        assert row["value"] == cell["value"] and row["merged_adapter"] and row["target"] == task
        assert io.read_jsonl(str(folder / f"row_{task}.jsonl")) == io.read_jsonl(
            str(folder / f"cell_{task}.jsonl")
        )
        assert io.read_json(str(folder / f"row_{task}.json"))["value"] == row["value"]
