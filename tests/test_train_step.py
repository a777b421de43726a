"""Training that fits: target-only LM head, token-budget micro-batches, checkpointing, autocast.

Every path must train the adapter that the plain step (`model(**batch).loss` on the whole
batch, the implementation before micro-batching) trains.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from tests.test_train import CFG, _info, train_file  # noqa: F401 (fixture)
from transfer_atlas import io
from transfer_atlas.batching import IGNORE, collate, schedule, tokenize_records
from transfer_atlas.models import load_model, load_tokenizer
from transfer_atlas.train import lora_model, lr_at, train_lora
from transfer_atlas.train_step import accumulate, autocast_context, micro_batches, target_loss_sum


def _ex(*lengths):
    return [{"input_ids": [1] * n, "labels": [IGNORE] + [1] * (n - 1)} for n in lengths]


def test_micro_batches_respect_the_token_budget():
    groups = micro_batches(_ex(3, 4, 2, 9, 1, 1), 8)
    assert [[len(e["input_ids"]) for e in g] for g in groups] == [[3, 4], [2], [9], [1, 1]]
    assert micro_batches(_ex(3, 4), None) == [_ex(3, 4)]


def test_target_only_head_gives_the_full_logits_loss(tiny_model, train_file):  # noqa: F811
    model, tok = tiny_model
    ex = tokenize_records(tok, io.read_jsonl(train_file)[:6], 96)
    b = collate(ex, tok.pad_token_id)
    n = int((b["labels"][:, 1:] != IGNORE).sum())
    with torch.no_grad():
        want = float(model(**b).loss) * n
        got = float(target_loss_sum(model, b))
    assert got == pytest.approx(want, rel=1e-5)


def test_accumulated_gradient_equals_the_whole_batch_gradient(tiny_model_dir, train_file):  # noqa: F811
    info = _info(tiny_model_dir)
    tok = load_tokenizer(info)
    ex = tokenize_records(tok, io.read_jsonl(train_file)[:8], 96)
    torch.manual_seed(0)
    model = lora_model(load_model(info, "float32", torch.device("cpu")), {**CFG, "dropout": 0.0})
    model.train()
    model(**collate(ex, tok.pad_token_id)).loss.backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad(set_to_none=True)
    out = accumulate(model, ex, tok.pad_token_id, torch.device("cpu"), {"micro_batch_tokens": 60})
    assert out["micro_batches"] >= 4
    for name, grad in want.items():
        torch.testing.assert_close(dict(model.named_parameters())[name].grad, grad, rtol=1e-4, atol=1e-7)


def _todays_adapter(info, train_path, cfg, seed=0):
    """The training step before this change: whole batch, HF loss over full logits."""
    torch.manual_seed(seed)
    tok = load_tokenizer(info)
    model = lora_model(load_model(info, "float32", torch.device("cpu")), cfg)
    model.train()
    ex = tokenize_records(tok, io.read_jsonl(train_path, ("prompt", "target")), cfg["max_length"])
    plan = schedule([len(e["input_ids"]) for e in ex], cfg["batch_size"], cfg["steps"], seed, cfg["batching"])
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg["lr"], weight_decay=0.0
    )
    for step, idx in enumerate(plan):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        model(**collate([ex[i] for i in idx], tok.pad_token_id)).loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], cfg["grad_clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k}


def test_memory_saving_step_trains_todays_adapter(tmp_path, tiny_model_dir, train_file):  # noqa: F811
    """Micro-batches of <= 96 tokens + gradient checkpointing, 6 steps: same LoRA weights."""
    cfg = {**CFG, "checkpoint_every": 0, "micro_batch_tokens": 96, "gradient_checkpointing": True}
    info = _info(tiny_model_dir)
    train_lora(info, str(train_file), str(tmp_path / "ad"), str(tmp_path / "ck"), cfg, "s", 0, "float32")
    got = load_file(tmp_path / "ad" / "adapter_model.safetensors")
    want = _todays_adapter(info, train_file, CFG)
    assert len(got) == len(want) > 0
    for key, value in want.items():
        saved = key.replace(".default", "")
        torch.testing.assert_close(got[saved], value, rtol=1e-3, atol=1e-5)
    rows = io.read_jsonl(tmp_path / "ad" / "train_log.jsonl")
    assert len(rows) == 6 and all(r["target_tokens"] > 0 and r["tokens"] > 0 for r in rows)


def test_autocast_runs_bf16_matmuls_with_fp32_lora_weights():
    lin = torch.nn.Linear(4, 4)
    with autocast_context({"autocast": True}, torch.device("cpu")):
        assert lin(torch.ones(2, 4)).dtype == torch.bfloat16
    with autocast_context({"autocast": "auto"}, torch.device("cpu")):
        assert lin(torch.ones(2, 4)).dtype == torch.float32
    assert lin.weight.dtype == torch.float32
