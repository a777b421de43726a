"""Resumable training checkpoints without pickles: safetensors for tensors, JSON for the rest.

A checkpoint folder holds adapter.safetensors (trainable weights), optimizer.safetensors
(AdamW moments, flattened), rng.safetensors (torch RNG states), state.json (step, param
groups, `fingerprint`, the training log so far, best_step / best_val_loss) and, with a
validation split, best.safetensors (the weights of the lowest validation loss so far). It is written with
`io.atomic_dir`: a new folder is renamed in only after the old one was renamed aside, so
one of the two is always complete, and `restore` accepts either.

A checkpoint belongs to its settings: `restore` resumes only when the folder's
`fingerprint` (a hash of the result settings, the training data file and the model; see
`transfer_atlas.train.fingerprint`) equals the caller's. A mismatch, a missing or an
unreadable checkpoint means step 0, logged. `remove` deletes the folder (and any aside or
temporary copy) once the adapter is written.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from transfer_atlas import io

log = logging.getLogger(__name__)
FILES = ("adapter.safetensors", "optimizer.safetensors", "rng.safetensors", "state.json")


def save(folder: Path, model, optimizer, step: int, extra: dict, best_weights: dict | None = None) -> None:
    """Write the checkpoint of `step`; `best_weights` (the LoRA weights of the lowest
    validation loss so far) go to best.safetensors."""
    trainable = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    opt = optimizer.state_dict()
    flat = {
        f"{idx}.{key}": (val if torch.is_tensor(val) else torch.tensor(val)).cpu().contiguous()
        for idx, st in opt["state"].items()
        for key, val in st.items()
    }
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state()
    with io.atomic_dir(folder) as tmp:
        save_file(trainable, tmp / "adapter.safetensors")
        save_file(flat, tmp / "optimizer.safetensors")
        save_file(rng, tmp / "rng.safetensors")
        if best_weights:
            save_file({k: v.contiguous() for k, v in best_weights.items()}, tmp / "best.safetensors")
        io.write_json(tmp / "state.json", {"step": step, "param_groups": opt["param_groups"], **extra})


def restore(folder: str | Path, fingerprint: str, model, optimizer) -> dict | None:
    """Restore the checkpoint at `folder` (or its aside copy) into model and optimizer when its
    fingerprint matches; returns its state.json, or None (start from step 0) with the reason
    logged."""
    folder = Path(folder)
    candidates = [f for f in (folder, io.aside_path(folder)) if f.is_dir()]
    if not candidates:
        return None
    for path in candidates:
        if not all((path / name).is_file() for name in FILES):
            log.warning("checkpoint %s is incomplete; ignored", path)
            continue
        try:
            state = io.read_json(path / "state.json")
            if state.get("fingerprint") != fingerprint:
                log.warning(
                    "checkpoint %s was made with other settings, data or model (fingerprint %s, "
                    "now %s): starting from step 0",
                    path,
                    state.get("fingerprint"),
                    fingerprint,
                )
                return None
            return load(path, model, optimizer, state)
        except Exception as err:  # corrupt files: never resume from them
            log.warning("checkpoint %s is unreadable (%s): starting from step 0", path, err)
            return None
    log.warning("no complete checkpoint at %s: starting from step 0", folder)
    return None


def load(folder: Path, model, optimizer, state: dict) -> dict:
    """Restore weights, optimizer and RNG state in place; every file is read and checked
    against the model before anything is changed. Returns `state`."""
    weights = load_file(folder / "adapter.safetensors")
    flat = load_file(folder / "optimizer.safetensors")
    rng = load_file(folder / "rng.safetensors")
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if set(weights) != set(params) or any(weights[n].shape != params[n].shape for n in params):
        raise ValueError("its trainable weights do not match the model's")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device))
    opt_state: dict = {}
    for key, val in flat.items():
        idx, name = key.split(".", 1)
        opt_state.setdefault(int(idx), {})[name] = val
    device = next(model.parameters()).device
    for st in opt_state.values():
        for name, val in st.items():
            if name != "step":
                st[name] = val.to(device)
    optimizer.load_state_dict({"state": opt_state, "param_groups": state["param_groups"]})
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])
    if (folder / "best.safetensors").is_file():
        state["best_weights"] = load_file(folder / "best.safetensors")
    return state


def remove(folder: str | Path) -> None:
    """Delete a checkpoint folder, its aside copy and temporary copies left by a kill."""
    folder = Path(folder)
    for path in [folder, *folder.parent.glob(f".{folder.name}.*")]:
        if path.is_dir():
            shutil.rmtree(path)
