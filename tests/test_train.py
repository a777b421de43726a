"""LoRA training: loss on target tokens only, bucketing, resume after SIGKILL, divergence."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import sigkill_at_marker
from transfer_atlas import checkpoint, data, io, validation
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


def _adapters_equal(a_dir, b_dir, exact: bool = True) -> None:
    from safetensors.torch import load_file

    a, b = load_file(a_dir / "adapter_model.safetensors"), load_file(b_dir / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        if exact:
            assert torch.equal(a[key], b[key]), key
        else:
            torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)


@pytest.fixture
def stale_checkpoint(tmp_path, tiny_model_dir, train_file, monkeypatch):
    """A step-4 checkpoint of a 6-step run under CFG (kept: the adapter's deletion is patched out)."""
    cfg = {**CFG, "steps": 6, "checkpoint_every": 2}
    with monkeypatch.context() as patch:
        patch.setattr(checkpoint, "remove", lambda folder: None)
        train_lora(
            _info(tiny_model_dir), str(train_file), str(tmp_path / "old"), str(tmp_path / "ck"), cfg, "s", 0
        )
    assert io.read_json(tmp_path / "ck" / "state.json")["step"] == 4
    return cfg, tmp_path / "ck"


def test_a_checkpoint_of_other_settings_is_not_resumed(
    tmp_path, tiny_model_dir, train_file, stale_checkpoint, caplog
):
    cfg, ck = stale_checkpoint
    new = {**cfg, "lr": 0.003}
    with caplog.at_level("WARNING", logger="transfer_atlas.checkpoint"):
        rebuilt = train_lora(
            _info(tiny_model_dir), str(train_file), str(tmp_path / "ad"), str(ck), new, "s", 0
        )
    assert rebuilt["resumed_from_step"] == 0 and "made with other settings" in caplog.text
    assert not ck.exists()  # deleted once the adapter is written
    fresh = train_lora(
        _info(tiny_model_dir), str(train_file), str(tmp_path / "fresh"), str(tmp_path / "ck2"), new, "s", 0
    )
    assert (
        rebuilt["fingerprint"]
        == fresh["fingerprint"]
        != train_lora_fingerprint(tiny_model_dir, train_file, cfg)
    )
    _adapters_equal(tmp_path / "ad", tmp_path / "fresh")


def train_lora_fingerprint(model_dir, train_file, cfg):
    from transfer_atlas.train import fingerprint

    return fingerprint(_info(model_dir), str(train_file), cfg, "s", 0, "auto")


def test_an_execution_only_change_still_resumes(tmp_path, tiny_model_dir, train_file, stale_checkpoint):
    cfg, ck = stale_checkpoint
    again = train_lora(
        _info(tiny_model_dir),
        str(train_file),
        str(tmp_path / "ad"),
        str(ck),
        {**cfg, "checkpoint_every": 5},
        "s",
        0,
    )
    assert again["resumed_from_step"] == 4 and again["steps"] == 6


def test_a_corrupt_checkpoint_starts_from_step_0(
    tmp_path, tiny_model_dir, train_file, stale_checkpoint, caplog
):
    cfg, ck = stale_checkpoint
    (ck / "adapter.safetensors").write_bytes(b"not a safetensors file")
    with caplog.at_level("WARNING", logger="transfer_atlas.checkpoint"):
        again = train_lora(_info(tiny_model_dir), str(train_file), str(tmp_path / "ad"), str(ck), cfg, "s", 0)
    assert again["resumed_from_step"] == 0 and "unreadable" in caplog.text
    _adapters_equal(tmp_path / "ad", tmp_path / "old")


KILL_IN_SWAP = """
import json, sys, time
import transfer_atlas.io as io
from transfer_atlas.train import train_lora
orig = io.set_aside
def aside_then_wait(path):
    aside = orig(path)
    if aside is not None:  # the old checkpoint is aside, the new one not yet renamed in
        print("ASIDE", flush=True)
        time.sleep(60)
    return aside
io.set_aside = aside_then_wait
info, train, out, ckpt, cfg = json.loads(sys.argv[1])
train_lora(info, train, out, ckpt, cfg, "s", 0)
"""


def test_a_kill_while_replacing_a_checkpoint_leaves_one_to_resume(tmp_path, tiny_model_dir, train_file):
    cfg = {**CFG, "steps": 6, "checkpoint_every": 2}
    train_lora(
        _info(tiny_model_dir), str(train_file), str(tmp_path / "ref"), str(tmp_path / "ref_ck"), cfg, "s", 0
    )
    args = json.dumps(
        [_info(tiny_model_dir), str(train_file), str(tmp_path / "ad"), str(tmp_path / "ck"), cfg]
    )
    sigkill_at_marker(KILL_IN_SWAP, args, "ASIDE")
    assert not (tmp_path / "ck").exists()  # killed between the two renames
    assert io.read_json(io.aside_path(tmp_path / "ck") / "state.json")["step"] == 2
    resumed = train_lora(
        _info(tiny_model_dir), str(train_file), str(tmp_path / "ad"), str(tmp_path / "ck"), cfg, "s", 0
    )
    assert resumed["resumed_from_step"] == 2 and resumed["steps"] == 6
    _adapters_equal(tmp_path / "ref", tmp_path / "ad", exact=False)
    assert list(tmp_path.glob(".ck*")) == [] and not (tmp_path / "ck").exists()


def test_plan_epochs_and_warmup_ratio():
    from transfer_atlas.validation import plan

    study = {"batch_size": 16, "epochs": 3, "warmup_ratio": 0.1, "steps": 60, "warmup_steps": 5}
    assert plan(study, 270) == {"steps": 51, "warmup_steps": 6, "steps_per_epoch": 17, "eval_every": 17}
    fixed = {"batch_size": 8, "steps": 24, "warmup_steps": 5}
    assert plan(fixed, 192) == {"steps": 24, "warmup_steps": 5, "steps_per_epoch": 24, "eval_every": 24}


def test_validation_split_is_seeded_and_disjoint():
    from transfer_atlas.validation import split

    train, val = split(list(range(24)), 0.1, seed=17)
    assert len(val) == 2 and sorted(train + val) == list(range(24))
    assert split(list(range(24)), 0.1, seed=17) == (train, val) != split(list(range(24)), 0.1, seed=42)
    assert split(list(range(5)), 0.0, 1) == (list(range(5)), [])


RECIPE = {**CFG, "epochs": 3, "val_fraction": 0.25, "warmup_ratio": 0.1, "checkpoint_every": 0}


def _scripted_losses(monkeypatch, losses: list):
    """Replace the validation loss by `losses` (an Exception entry is raised) and keep a copy
    of the trainable weights at every call."""
    seen = []

    def fake(model, examples, pad_id, device, cfg):
        seen.append({n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad})
        value = losses[len(seen) - 1]
        if isinstance(value, Exception):
            raise value
        return value

    monkeypatch.setattr(validation, "validation_loss", fake)
    return seen


def _assert_adapter_is(folder, weights: dict) -> None:
    from safetensors.torch import load_file

    saved = load_file(folder / "adapter_model.safetensors")
    assert len(saved) == len(weights) > 0
    for name, value in weights.items():
        assert torch.equal(saved[name.replace(".default", "")], value), name


def test_the_adapter_written_is_the_step_of_the_lowest_validation_loss(
    tmp_path, tiny_model_dir, train_file, monkeypatch
):
    seen = _scripted_losses(monkeypatch, [3.0, 1.0, 2.0])  # 18 train examples / 4 = 5 steps per epoch
    summary = train_lora(
        _info(tiny_model_dir), str(train_file), str(tmp_path / "ad"), str(tmp_path / "ck"), RECIPE, "s", 0
    )
    log = [json.loads(x) for x in (tmp_path / "ad" / "train_log.jsonl").open()]
    assert [(r["step"], r["val_loss"]) for r in log if "val_loss" in r] == [(5, 3.0), (10, 1.0), (15, 2.0)]
    assert (summary["steps"], summary["n_train"], summary["n_validation"]) == (15, 18, 6)
    assert summary["plan"] == {"steps": 15, "warmup_steps": 2, "steps_per_epoch": 5, "eval_every": 5}
    assert (summary["best_step"], summary["best_val_loss"]) == (10, 1.0)
    _assert_adapter_is(tmp_path / "ad", seen[1])
    assert not torch.equal(seen[1][next(iter(seen[1]))], seen[2][next(iter(seen[2]))])


def test_the_best_checkpoint_survives_a_resume(tmp_path, tiny_model_dir, train_file, monkeypatch):
    cfg = {**RECIPE, "checkpoint_every": 10}
    args = (_info(tiny_model_dir), str(train_file), str(tmp_path / "ad"), str(tmp_path / "ck"), cfg, "s", 0)
    first = _scripted_losses(monkeypatch, [1.0, 3.0, RuntimeError("killed")])
    with pytest.raises(RuntimeError, match="killed"):
        train_lora(*args)  # the step-10 checkpoint holds the step-5 weights as the best
    _scripted_losses(monkeypatch, [2.0])
    summary = train_lora(*args)
    assert (summary["resumed_from_step"], summary["best_step"], summary["best_val_loss"]) == (10, 5, 1.0)
    _assert_adapter_is(tmp_path / "ad", first[0])


def test_real_validation_loss_selects_its_minimum(tmp_path, tiny_model_dir, train_file):
    from peft import PeftModel

    from transfer_atlas.models import load_model, load_tokenizer

    cfg = {**RECIPE, "lr": 0.05, "grad_clip": 0.0}
    summary = train_lora(
        _info(tiny_model_dir), str(train_file), str(tmp_path / "ad"), str(tmp_path / "ck"), cfg, "s", 0
    )
    log = [json.loads(x) for x in (tmp_path / "ad" / "train_log.jsonl").open()]
    losses = {r["step"]: r["val_loss"] for r in log if "val_loss" in r}
    assert summary["best_step"] == min(losses, key=losses.get) and summary["best_val_loss"] == min(
        losses.values()
    )
    tok = load_tokenizer(_info(tiny_model_dir))
    examples = tokenize_records(tok, io.read_jsonl(train_file), cfg["max_length"])
    _, val = validation.split(examples, cfg["val_fraction"], 0)
    model = PeftModel.from_pretrained(load_model(_info(tiny_model_dir), "float32"), tmp_path / "ad")
    again = validation.validation_loss(model, val, tok.pad_token_id, torch.device("cpu"), cfg)
    assert again == pytest.approx(summary["best_val_loss"], rel=1e-5)
