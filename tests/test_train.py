"""LoRA training: loss on target tokens only, bucketing, resume after SIGKILL, divergence."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import sigkill_at_marker
from transfer_atlas import data, io
from transfer_atlas.batching import IGNORE, collate, schedule, tokenize_records
from transfer_atlas.train import TrainingDiverged, train_lora

CFG = {
    "r": 4,
    "alpha": 8,
    "dropout": 0.0,
    "target_modules": ["q_proj", "v_proj"],
    "lr": 0.005,
    "weight_decay": 0.0,
    "warmup_steps": 1,
    "steps": 6,
    "batch_size": 4,
    "max_length": 96,
    "batching": "bucketed",
    "checkpoint_every": 2,
    "grad_clip": 1.0,
}


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train_data")
    spec = {"name": "s", "task": "sentiment2", "n_train": 24, "n_eval": 4, "seed": 0}
    data.prepare(spec, folder / "train.jsonl", folder / "eval.jsonl")
    return folder / "train.jsonl"


def test_loss_only_on_target_tokens(tiny_model):
    _, tok = tiny_model
    ex = tokenize_records(tok, [{"prompt": "Review: good\nAnswer:", "target": " positive"}], 64)[0]
    n_prompt = len(tok("Review: good\nAnswer:")["input_ids"])
    assert ex["labels"][:n_prompt] == [IGNORE] * n_prompt
    assert ex["labels"][n_prompt:] == ex["input_ids"][n_prompt:]
    assert ex["input_ids"][-1] == tok.eos_token_id
    batch = collate([ex, {"input_ids": [1, 2], "labels": [IGNORE, 2]}], tok.pad_token_id)
    assert batch["attention_mask"][1].tolist()[2:] == [0] * (len(ex["input_ids"]) - 2)
    assert (batch["labels"][1, 2:] == IGNORE).all()


def test_truncation_keeps_the_target(tiny_model):
    _, tok = tiny_model
    long_prompt = "Review: " + "very long text " * 100 + "\nAnswer:"
    ex = tokenize_records(tok, [{"prompt": long_prompt, "target": " positive"}], 32)[0]
    target = tok(" positive", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert len(ex["input_ids"]) == 32 and ex["input_ids"][-len(target) :] == target
    assert ex["labels"][-len(target) :] == target and ex["labels"][: 32 - len(target)] == [IGNORE] * (
        32 - len(target)
    )


def test_truncation_of_a_long_answer_keeps_the_prompt_tail_and_eos(tiny_model):
    """A Magicoder-like example (answer longer than max_length) keeps half of the budget for the
    end of its prompt, the start of its answer, and eos."""
    _, tok = tiny_model
    prompt = "Write a function. " * 20 + "\nAnswer:"
    answer = " def f(x):\n    return x" * 40
    ex = tokenize_records(tok, [{"prompt": prompt, "target": answer}], 32)[0]
    p_ids = tok(prompt)["input_ids"]
    a_ids = tok(answer, add_special_tokens=False)["input_ids"]
    assert len(ex["input_ids"]) == 32 and ex["input_ids"][:16] == p_ids[-16:]
    assert ex["input_ids"][16:] == a_ids[:15] + [tok.eos_token_id]
    assert ex["labels"] == [IGNORE] * 16 + a_ids[:15] + [tok.eos_token_id]
    short = tokenize_records(tok, [{"prompt": "Q:", "target": answer}], 32)[0]  # short prompt: whole
    n = len(tok("Q:")["input_ids"])
    assert short["input_ids"][:n] == tok("Q:")["input_ids"] and len(short["input_ids"]) == 32


def test_bucketed_schedule_groups_lengths_and_covers_every_example():
    lengths = [i % 97 + 5 for i in range(256)]
    plan = schedule(lengths, 8, 32, seed=0, mode="bucketed")
    assert sorted(i for b in plan for i in b) == list(range(256))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in plan) / len(plan)
    random_spread = (
        sum(
            max(lengths[i] for i in b) - min(lengths[i] for i in b)
            for b in schedule(lengths, 8, 32, 0, "padded")
        )
        / 32
    )
    assert spread < random_spread / 3
    assert schedule(lengths, 8, 32, 0, "bucketed") == plan


def _info(model_dir):
    return {"name": "tiny", "load_path": str(model_dir)}


def test_training_writes_peft_adapter_and_loss_goes_down(tmp_path, tiny_model_dir, train_file):
    from peft import PeftModel

    from transfer_atlas.models import load_model

    summary = train_lora(
        _info(tiny_model_dir),
        str(train_file),
        str(tmp_path / "ad"),
        str(tmp_path / "ck"),
        {**CFG, "steps": 12},
        "s",
        0,
    )
    assert summary["steps"] == 12 and summary["mean_loss_last10"] < summary["first_loss"]
    model = PeftModel.from_pretrained(load_model(_info(tiny_model_dir), "float32"), tmp_path / "ad")
    assert any("lora_A" in n for n, _ in model.named_parameters())


def test_divergence_stops_with_source_and_step(tmp_path, tiny_model_dir, train_file):
    with pytest.raises(TrainingDiverged, match=r"source 's' \(seed 0\): loss is (nan|inf) at step \d+"):
        train_lora(
            _info(tiny_model_dir),
            str(train_file),
            str(tmp_path / "ad"),
            str(tmp_path / "ck"),
            {**CFG, "lr": 1e30, "grad_clip": 0.0, "steps": 20},
            "s",
            0,
        )
    assert not (tmp_path / "ad").exists()


KILL_SCRIPT = """
import json, sys, time
import transfer_atlas.checkpoint as ck
from transfer_atlas.train import train_lora
orig = ck.save
def slow_save(*a, **k):
    orig(*a, **k)
    print("CHECKPOINT", flush=True)
    time.sleep(60)
ck.save = slow_save
info, train, out, ckpt, cfg = json.loads(sys.argv[1])
train_lora(info, train, out, ckpt, cfg, "s", 0)
"""


def test_sigkill_after_checkpoint_resumes_to_the_same_adapter(tmp_path, tiny_model_dir, train_file):
    from safetensors.torch import load_file

    cfg = {**CFG, "steps": 6, "checkpoint_every": 3}
    ref = train_lora(
        _info(tiny_model_dir), str(train_file), str(tmp_path / "ref"), str(tmp_path / "ref_ck"), cfg, "s", 0
    )
    args = json.dumps(
        [_info(tiny_model_dir), str(train_file), str(tmp_path / "ad"), str(tmp_path / "ck"), cfg]
    )
    sigkill_at_marker(KILL_SCRIPT, args, "CHECKPOINT")
    assert io.read_json(tmp_path / "ck" / "state.json")["step"] == 3 and not (tmp_path / "ad").exists()
    resumed = train_lora(
        _info(tiny_model_dir), str(train_file), str(tmp_path / "ad"), str(tmp_path / "ck"), cfg, "s", 0
    )
    assert resumed["resumed_from_step"] == 3
    log = [json.loads(x)["step"] for x in (tmp_path / "ad" / "train_log.jsonl").open()]
    assert log == [1, 2, 3, 4, 5, 6]
    a, b = (
        load_file(tmp_path / "ref" / "adapter_model.safetensors"),
        load_file(tmp_path / "ad" / "adapter_model.safetensors"),
    )
    assert a.keys() == b.keys()
    for key in a:  # same seed, same batches, restored optimizer and RNG: equal to float tolerance
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)
    assert resumed["final_loss"] == pytest.approx(ref["final_loss"], rel=1e-4)


def test_bucketed_batches_give_the_same_loss_as_padded_batches(tiny_model, train_file):
    """Summed target-token loss over one epoch is independent of how examples are batched."""
    model, tok = tiny_model
    ex = tokenize_records(tok, io.read_jsonl(train_file), 96)
    lengths = [len(e["input_ids"]) for e in ex]

    def total_loss(mode: str) -> tuple[float, int]:
        loss_sum, n_tok = 0.0, 0
        with torch.no_grad():
            for idx in schedule(lengths, 4, len(ex) // 4, seed=0, mode=mode):
                b = collate([ex[i] for i in idx], tok.pad_token_id)
                n = int((b["labels"][:, 1:] != IGNORE).sum())
                loss_sum += float(model(**b).loss) * n
                n_tok += n
        return loss_sum, n_tok

    (padded, n1), (bucketed, n2) = total_loss("padded"), total_loss("bucketed")
    assert n1 == n2
    assert bucketed == pytest.approx(padded, rel=1e-5)
