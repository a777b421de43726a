"""train_lora: one peft LoRA adapter per (model, source, seed).

The adapter folder (results/adapters/{model}/{source}/seed{seed}/) holds the standard
peft files (adapter_config.json, adapter_model.safetensors; loadable with
`PeftModel.from_pretrained`) plus:
  train_log.jsonl   one row per step: step, loss, lr, tokens (non-padding), target_tokens,
                    tokens_per_s, elapsed_s
  train_summary.json  source, seed, steps, final/mean loss, hyperparameters, elapsed_s,
                    resumed_from_step, adapter_sha256, environment (device, torch and CUDA
                    versions, GPU names: transfer_atlas.runtime.device_info)
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import torch

from transfer_atlas import checkpoint, io, prompts
from transfer_atlas.batching import schedule, tokenize_records
from transfer_atlas.models import load_model, load_tokenizer, pick_device
from transfer_atlas.runtime import device_info
from transfer_atlas.train_step import prepare_for_training, train_step

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def lora_model(model, cfg: dict):
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=cfg["r"],
        lora_alpha=cfg["alpha"],
        lora_dropout=cfg["dropout"],
        target_modules=cfg["target_modules"],
        task_type="CAUSAL_LM",
        bias="none",
    )
    return get_peft_model(model, lora)


def lr_at(step: int, cfg: dict) -> float:
    """Linear warm-up to cfg.lr, then linear decay to 0 at cfg.steps (step is 0-based)."""
    warm, total = cfg["warmup_steps"], cfg["steps"]
    if step < warm:
        return cfg["lr"] * (step + 1) / warm
    return cfg["lr"] * max(0.0, (total - step) / max(1, total - warm))


def _resume(ckpt_dir: Path, model, optimizer, log_rows: list) -> int:
    if not (ckpt_dir / "state.json").exists():
        return 0
    state = checkpoint.load(ckpt_dir, model, optimizer)
    log_rows += state.get("log", [])
    log.info("resumed from checkpoint %s at step %d", ckpt_dir, state["step"])
    return int(state["step"])


def train_lora(
    model_info: dict,
    train_path: str,
    out_dir: str,
    ckpt_dir: str,
    cfg: dict,
    source: str,
    seed: int,
    dtype: str = "auto",
) -> dict:
    """Fine-tune a LoRA adapter on `train_path`; write it atomically to `out_dir`."""
    torch.manual_seed(seed)
    device = pick_device()
    tok = load_tokenizer(model_info)
    model = lora_model(prepare_for_training(load_model(model_info, dtype, device), cfg, device), cfg)
    model.train()
    records = prompts.render_records(
        io.read_jsonl(train_path, ("prompt", "target")), tok, prompts.chat_settings(model_info)
    )
    examples = tokenize_records(tok, records, cfg["max_length"])
    plan = schedule(
        [len(e["input_ids"]) for e in examples], cfg["batch_size"], cfg["steps"], seed, cfg["batching"]
    )
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg["lr"], weight_decay=cfg["weight_decay"]
    )
    ckpt_dir, log_rows = Path(ckpt_dir), []
    start = _resume(ckpt_dir, model, optimizer, log_rows)
    t0 = time.perf_counter()
    for step in range(start, cfg["steps"]):
        t = time.perf_counter()
        out = train_step(
            model,
            optimizer,
            [examples[i] for i in plan[step]],
            lr_at(step, cfg),
            cfg,
            tok.pad_token_id,
            device,
        )
        loss = out["loss"]
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"source '{source}' (seed {seed}): loss is {loss} at step {step + 1}; no adapter written"
            )
        dt = time.perf_counter() - t
        n_tok = out["tokens"]
        row = {
            "step": step + 1,
            "loss": loss,
            "lr": lr_at(step, cfg),
            "tokens": n_tok,
            "target_tokens": out["target_tokens"],
            "tokens_per_s": n_tok / dt,
            "elapsed_s": time.perf_counter() - t0,
        }
        log_rows.append(row)
        if (step + 1) % 10 == 0 or step + 1 == cfg["steps"]:
            log.info(
                "step %d/%d loss %.4f lr %.2e %.0f tok/s",
                step + 1,
                cfg["steps"],
                loss,
                row["lr"],
                row["tokens_per_s"],
            )
        if cfg["checkpoint_every"] and (step + 1) % cfg["checkpoint_every"] == 0 and step + 1 < cfg["steps"]:
            checkpoint.save(
                ckpt_dir, model, optimizer, step + 1, {"log": log_rows, "source": source, "seed": seed}
            )
    return _write_adapter(model, Path(out_dir), log_rows, cfg, source, seed, start, time.perf_counter() - t0)


def _write_adapter(
    model, out_dir: Path, log_rows: list, cfg: dict, source: str, seed: int, resumed_from: int, elapsed: float
) -> dict:
    losses = [r["loss"] for r in log_rows]
    summary = {
        "source": source,
        "seed": seed,
        "steps": len(log_rows),
        "final_loss": losses[-1],
        "first_loss": losses[0],
        "mean_loss_last10": sum(losses[-10:]) / len(losses[-10:]),
        "resumed_from_step": resumed_from,
        "elapsed_s": elapsed,
        "mean_tokens_per_s": sum(r["tokens"] for r in log_rows[resumed_from:]) / max(elapsed, 1e-9),
        "hyperparameters": cfg,
        "environment": device_info(),
    }
    with io.atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        with open(tmp / "train_log.jsonl", "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in log_rows)
        summary["adapter_sha256"] = io.sha256_file(tmp / "adapter_model.safetensors")
        io.write_json(tmp / "train_summary.json", summary)
    log.info("adapter written to %s (final loss %.4f)", out_dir, summary["final_loss"])
    return summary
