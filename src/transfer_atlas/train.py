"""train_lora: one peft LoRA adapter per (model, source, seed).

The adapter folder (results/adapters/{model}/{source}/seed{seed}/) holds the standard
peft files (adapter_config.json, adapter_model.safetensors; loadable with
`PeftModel.from_pretrained`) plus:
  train_log.jsonl   one row per step: step, loss, lr, tokens (non-padding), target_tokens,
                    tokens_per_s, elapsed_s; val_loss (mean nats per target token on the
                    validation split) at each validation step
  train_summary.json  source, seed, steps, final/mean loss, hyperparameters, elapsed_s,
                    n_train, n_validation, plan (steps, warmup_steps, steps_per_epoch,
                    eval_every: transfer_atlas.validation.plan), best_step / best_val_loss
                    (the step whose weights were written when a validation split exists,
                    else null),
                    resumed_from_step (0 unless a checkpoint of the same fingerprint was
                    resumed), fingerprint (transfer_atlas.train.fingerprint), provenance
                    (transfer_atlas.provenance.record), adapter_sha256,
                    environment (device, torch and CUDA versions, GPU names:
                    transfer_atlas.runtime.device_info)
The checkpoint folder (results/checkpoints/...) is deleted once the adapter is written.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import torch

from transfer_atlas import checkpoint, io, prompts, provenance, settings, validation
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
    """Linear warm-up to cfg.lr, then linear decay to 0 at cfg.steps (step is 0-based; with
    `epochs` / `warmup_ratio`, cfg is the run's plan: transfer_atlas.validation.plan)."""
    warm, total = cfg["warmup_steps"], cfg["steps"]
    if step < warm:
        return cfg["lr"] * (step + 1) / warm
    return cfg["lr"] * max(0.0, (total - step) / max(1, total - warm))


def fingerprint(model_info: dict, train_path: str, cfg: dict, source: str, seed: int, dtype: str) -> str:
    """Hash of everything an adapter depends on: the result settings in `cfg` (execution-only
    keys such as checkpoint_every left out), dtype, source, seed, the training data file and
    the model (its model_info.json). A checkpoint resumes only under the same fingerprint."""
    roles = settings.roles()
    result = {k: v for k, v in cfg.items() if roles.get(f"train.{k}", "result") != "execution"}
    return settings.settings_hash(
        {
            "train": result,
            "dtype": dtype,
            "source": source,
            "seed": seed,
            "train_data_sha256": io.sha256_file(train_path),
            "model": model_info,
        }
    )


def _resume(ckpt_dir: Path, fp: str, model, optimizer, log_rows: list, best: validation.Best) -> int:
    state = checkpoint.restore(ckpt_dir, fp, model, optimizer)
    if state is None:
        return 0
    log_rows += state.get("log", [])
    if state.get("best_weights"):
        best.step, best.loss, best.weights = state["best_step"], state["best_val_loss"], state["best_weights"]
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
    settings_sha256: str | None = None,
) -> dict:
    """Fine-tune a LoRA adapter on `train_path`; write it atomically to `out_dir`.
    With `val_fraction`, the adapter written is the one of the lowest validation loss.
    `settings_sha256`: its result-settings hash (transfer_atlas.provenance), recorded."""
    torch.manual_seed(seed)
    device = pick_device()
    tok = load_tokenizer(model_info)
    model = lora_model(prepare_for_training(load_model(model_info, dtype, device), cfg, device), cfg)
    model.train()
    rendered = prompts.render_records(
        io.read_jsonl(train_path, ("prompt", "target")), tok, prompts.chat_settings(model_info)
    )
    records = tokenize_records(tok, rendered, cfg["max_length"])
    examples, val = validation.split(records, cfg.get("val_fraction") or 0.0, seed)
    run_cfg = {**cfg, **validation.plan(cfg, len(examples))}
    lengths = [len(e["input_ids"]) for e in examples]
    batches = schedule(lengths, cfg["batch_size"], run_cfg["steps"], seed, cfg["batching"])
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg["lr"], weight_decay=cfg["weight_decay"]
    )
    ckpt_dir, log_rows, best = Path(ckpt_dir), [], validation.Best()
    fp = fingerprint(model_info, train_path, cfg, source, seed, dtype)
    start = _resume(ckpt_dir, fp, model, optimizer, log_rows, best)
    t0, total = time.perf_counter(), run_cfg["steps"]
    for step in range(start, total):
        row = _step(model, optimizer, [examples[i] for i in batches[step]], step, run_cfg, tok, device)
        if not math.isfinite(row["loss"]):
            raise TrainingDiverged(
                f"source '{source}' (seed {seed}): loss is {row['loss']} at step {step + 1}; no adapter written"
            )
        if val and ((step + 1) % run_cfg["eval_every"] == 0 or step + 1 == total):
            row["val_loss"] = validation.validation_loss(model, val, tok.pad_token_id, device, cfg)
            best.offer(model, step + 1, row["val_loss"])
        log_rows.append({**row, "elapsed_s": time.perf_counter() - t0})
        if cfg["checkpoint_every"] and (step + 1) % cfg["checkpoint_every"] == 0 and step + 1 < total:
            extra = {"fingerprint": fp, "log": log_rows, "source": source, "seed": seed, **best.state()}
            checkpoint.save(ckpt_dir, model, optimizer, step + 1, extra, best.weights)
    if val:
        best.restore_into(model)
        log.info("selected step %d (validation loss %.4f)", best.step, best.loss)
    run = {"fingerprint": fp, "provenance": provenance.record(settings_sha256), "n_train": len(examples)}
    run |= {"n_validation": len(val), "plan": validation.plan(cfg, len(examples))}
    run |= best.state() if val else {"best_step": None, "best_val_loss": None}
    summary = _write_adapter(
        model, Path(out_dir), log_rows, cfg, source, seed, start, time.perf_counter() - t0, run
    )
    checkpoint.remove(ckpt_dir)
    return summary


def _step(model, optimizer, batch: list[dict], step: int, run_cfg: dict, tok, device) -> dict:
    """One optimizer step; its train_log row (without elapsed_s)."""
    t = time.perf_counter()
    lr = lr_at(step, run_cfg)
    out = train_step(model, optimizer, batch, lr, run_cfg, tok.pad_token_id, device)
    dt = time.perf_counter() - t
    row = {
        "step": step + 1,
        "loss": out["loss"],
        "lr": lr,
        "tokens": out["tokens"],
        "target_tokens": out["target_tokens"],
        "tokens_per_s": out["tokens"] / max(dt, 1e-9),
    }
    if (step + 1) % 10 == 0 or step + 1 == run_cfg["steps"]:
        log.info(
            "step %d/%d loss %.4f lr %.2e %.0f tok/s",
            step + 1,
            run_cfg["steps"],
            row["loss"],
            lr,
            row["tokens_per_s"],
        )
    return row


def _write_adapter(
    model,
    out_dir: Path,
    log_rows: list,
    cfg: dict,
    source: str,
    seed: int,
    resumed_from: int,
    elapsed: float,
    run: dict,
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
        **run,
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
