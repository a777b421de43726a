"""The training recipe's schedule, validation split and best-checkpoint selection.

`plan(cfg, n_examples)` turns `train.epochs` / `train.steps` and `warmup_ratio` /
`warmup_steps` into optimizer steps; `split` holds out `train.val_fraction` of the training
examples (seeded); `validation_loss` is the mean target-token loss (nats) over them;
`Best` keeps the LoRA weights of the lowest validation loss seen (the adapter written when a
validation split exists), and travels in the checkpoint so a resumed run selects the same.
torch is imported only by the functions that need it (the preflight plans without it).
"""

from __future__ import annotations

import math
import random


def plan(cfg: dict, n_train: int) -> dict:
    """{steps, warmup_steps, steps_per_epoch, eval_every} for `n_train` training examples.
    With `epochs`, steps = epochs x ceil(n_train / batch_size); `warmup_ratio` (when set)
    gives warmup_steps = ceil(ratio x steps). Validation runs every `eval_every` steps
    (default: once per epoch) and at the last step."""
    per_epoch = max(1, math.ceil(n_train / cfg["batch_size"]))
    steps = cfg["epochs"] * per_epoch if cfg.get("epochs") else cfg["steps"]
    warmup = cfg["warmup_steps"]
    if cfg.get("warmup_ratio") is not None:
        warmup = math.ceil(cfg["warmup_ratio"] * steps)
    return {
        "steps": steps,
        "warmup_steps": warmup,
        "steps_per_epoch": per_epoch,
        "eval_every": cfg.get("eval_every") or per_epoch,
    }


def split(examples: list, fraction: float, seed: int) -> tuple[list, list]:
    """(train, validation): a seeded `fraction` of the examples (at least one) held out."""
    if not fraction:
        return list(examples), []
    order = list(range(len(examples)))
    random.Random(f"{seed}:validation").shuffle(order)
    n_val = max(1, round(fraction * len(examples)))
    if n_val >= len(examples):
        raise ValueError(f"val_fraction {fraction} leaves no training example of {len(examples)}")
    held = set(order[:n_val])
    train = [e for i, e in enumerate(examples) if i not in held]
    return train, [e for i, e in enumerate(examples) if i in held]


def validation_loss(model, examples: list[dict], pad_id: int, device, cfg: dict) -> float:
    """Mean cross-entropy per target token (nats) over `examples`; no gradients, dropout off."""
    import torch

    from transfer_atlas.batching import IGNORE, collate
    from transfer_atlas.train_step import autocast_context, target_loss_sum

    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(examples), cfg["batch_size"]):
            batch = {k: v.to(device) for k, v in collate(examples[i : i + cfg["batch_size"]], pad_id).items()}
            with autocast_context(cfg, device):
                total += float(target_loss_sum(model, batch))
            n += int((batch["labels"][:, 1:] != IGNORE).sum())
    model.train(was_training)
    return total / max(n, 1)


class Best:
    """The lowest validation loss so far, its step and a CPU copy of the trainable weights."""

    def __init__(self, step: int = 0, loss: float = math.inf, weights: dict | None = None):
        self.step, self.loss, self.weights = step, loss, weights

    def offer(self, model, step: int, loss: float) -> bool:
        """Keep the model's weights when `loss` is lower than the best so far (ties: earlier)."""
        if not loss < self.loss:
            return False
        self.step, self.loss = step, loss
        self.weights = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}
        return True

    def restore_into(self, model) -> None:
        import torch

        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in self.weights.items():
                params[name].copy_(value.to(params[name].device))

    def state(self) -> dict:
        return {"best_step": self.step, "best_val_loss": self.loss if self.weights else None}
