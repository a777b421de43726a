"""One optimizer step of LoRA training that fits in GPU memory.

The objective is the one `AutoModelForCausalLM(labels=...)` computes on the whole batch:
the summed cross-entropy of every target token (label != -100) divided by the batch's
number of target tokens. Here it is computed so that memory does not grow with the
vocabulary times the padded width:

- the LM head and the fp32 cross-entropy run only at positions that predict a target token
  (a 128k vocabulary at 16 x 1024 positions is ~8 GB of fp32 logits, more with their
  gradient; prompt positions have label -100 and need none);
- the batch is cut into micro-batches of at most `micro_batch_tokens` padded tokens; each
  micro-batch's summed loss is divided by the whole batch's target-token count before its
  backward, so the accumulated gradient is the whole batch's gradient;
- gradient checkpointing (`gradient_checkpointing`: auto = on for CUDA) keeps one hidden
  state per layer instead of every activation; bf16 autocast (`autocast`: auto = on for
  CUDA) runs the fp32 LoRA weights' matmuls in bf16, so peft does not keep fp32 copies of
  their inputs for the backward pass; the model's KV cache is off.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from transfer_atlas.batching import IGNORE, collate

LOSS_CHUNK = 2048  # target positions whose logits exist at once


def _on(setting, device: torch.device) -> bool:
    """'auto' -> True on CUDA, else the boolean as given."""
    if setting == "auto":
        return device.type == "cuda"
    return bool(setting)


def prepare_for_training(model, cfg: dict, device: torch.device):
    """Cache off, gradient checkpointing per cfg (call on the base model before peft wraps it)."""
    model.config.use_cache = False
    if _on(cfg.get("gradient_checkpointing", "auto"), device):
        enable = getattr(model, "activation_checkpointing_enable", None)
        if enable is not None:  # transformers >= 5.x name
            enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def autocast_context(cfg: dict, device: torch.device):
    """bf16 autocast on the device when cfg.autocast says so, else a no-op context."""
    if _on(cfg.get("autocast", "auto"), device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def micro_batches(examples: list[dict], budget: int | None) -> list[list[dict]]:
    """Consecutive groups of examples whose padded size (rows x longest) is <= `budget`
    tokens (a single longer example forms its own group); None: one group."""
    if not budget:
        return [examples]
    groups: list[list[dict]] = []
    current: list[dict] = []
    width = 0
    for e in examples:
        n = len(e["input_ids"])
        if current and (len(current) + 1) * max(width, n) > budget:
            groups.append(current)
            current, width = [], 0
        current.append(e)
        width = max(width, n)
    return groups + [current] if current else groups


def target_loss_sum(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Summed cross-entropy (fp32) over target tokens; the LM head runs only where a target
    token is predicted. `model`: a causal LM (or peft wrapper) with get_decoder() and
    get_output_embeddings()."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = base.get_decoder()(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
    ).last_hidden_state
    labels = batch["labels"][:, 1:]
    keep = labels != IGNORE
    head, h, y = base.get_output_embeddings(), hidden[:, :-1][keep], labels[keep]

    def chunk_loss(h_part, y_part):
        return F.cross_entropy(head(h_part).float(), y_part, reduction="sum")

    if len(y) <= LOSS_CHUNK:
        return chunk_loss(h, y)
    return sum(  # logits of one chunk at a time; recomputed in the backward pass
        checkpoint(chunk_loss, h[i : i + LOSS_CHUNK], y[i : i + LOSS_CHUNK], use_reentrant=False)
        for i in range(0, len(y), LOSS_CHUNK)
    )


def accumulate(model, examples: list[dict], pad_id: int, device, cfg: dict) -> dict:
    """Forward/backward every micro-batch; gradients = d(mean target-token loss of the whole
    batch). Returns loss (that mean), tokens (non-padding), target_tokens, micro_batches."""
    n_target = sum(sum(1 for x in e["labels"][1:] if x != IGNORE) for e in examples)
    groups = micro_batches(examples, cfg.get("micro_batch_tokens"))
    total, tokens = 0.0, 0
    for group in groups:
        batch = {k: v.to(device) for k, v in collate(group, pad_id).items()}
        with autocast_context(cfg, device):
            loss = target_loss_sum(model, batch)
        if not torch.isfinite(loss):
            return {"loss": float(loss.detach()), "tokens": 0, "target_tokens": n_target}
        (loss / max(n_target, 1)).backward()
        total += float(loss.detach())
        tokens += int(batch["attention_mask"].sum())
    return {
        "loss": total / max(n_target, 1),
        "tokens": tokens,
        "target_tokens": n_target,
        "micro_batches": len(groups),
    }


def train_step(model, optimizer, examples: list[dict], lr: float, cfg: dict, pad_id: int, device) -> dict:
    """One optimizer step on `examples` (see `accumulate` for what it returns)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    out = accumulate(model, examples, pad_id, device, cfg)
    if not torch.isfinite(torch.tensor(out["loss"])):
        optimizer.zero_grad(set_to_none=True)
        return out
    if cfg["grad_clip"]:
        params = [p for p in model.parameters() if p.requires_grad]
        torch.nn.utils.clip_grad_norm_(params, cfg["grad_clip"])
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return out
