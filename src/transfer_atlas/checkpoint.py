"""Resumable training checkpoints without pickles: safetensors for tensors, JSON for the rest.

A checkpoint folder holds adapter.safetensors (trainable weights), optimizer.safetensors
(AdamW moments, flattened), rng.safetensors (torch RNG states) and state.json (step,
param groups, the scheduler's last step). It is written atomically.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from transfer_atlas import io


def save(folder: Path, model, optimizer, step: int, extra: dict) -> None:
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
        io.write_json(tmp / "state.json", {"step": step, "param_groups": opt["param_groups"], **extra})


def load(folder: Path, model, optimizer) -> dict:
    """Restore weights, optimizer and RNG state in place; returns state.json."""
    state = io.read_json(folder / "state.json")
    weights = load_file(folder / "adapter.safetensors")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device))
    flat = load_file(folder / "optimizer.safetensors")
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
    rng = load_file(folder / "rng.safetensors")
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])
    return state
