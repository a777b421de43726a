"""Stage a hub model once: download the files a job needs at a pinned revision, hash them.

prepare_model calls `stage_hub_model` for `hub_id` models (on a node with network, once per
model); every later job (profile, train, evaluate) loads results/models/{model}/checkpoint/
from disk, offline, so compute nodes need no hub access and a cold cache is not downloaded by
many jobs at once. model_info.json gains:
  revision       the commit the files came from (the config's `revision`, or the commit the
                 hub resolved `main` to at staging time)
  files          {relative path: sha256} of every staged file
  weights_sha256 sha256 of the single weights file, or of the sorted "path sha256" lines of
                 all *.safetensors shards
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

from transfer_atlas import io

log = logging.getLogger(__name__)

# Config, tokenizer and safetensors weights; not *.bin / *.pth / original/ (Meta's consolidated
# checkpoint) / GGUF copies that some repositories also carry.
ALLOW = ["*.json", "*.safetensors", "tokenizer*", "*.model", "*.tiktoken", "*.txt", "*.jinja", "*.py"]
IGNORE = ["original/*", "*.bin", "*.pth", "*.gguf", "*.msgpack", "*.h5", "*.onnx"]


def resolve_revision(hub_id: str, revision: str | None, token: str | None) -> str:
    """The commit sha `revision` (default: main) points to now."""
    from huggingface_hub import HfApi

    return HfApi().model_info(hub_id, revision=revision, token=token).sha


def stage_hub_model(spec: dict, out_dir: str | Path, token: str | None = None) -> dict:
    """Download spec.hub_id at its pinned (or resolved) revision into out_dir/checkpoint;
    returns the model_info fields (kind, source, load_path, revision, files, weights_sha256)."""
    from huggingface_hub import snapshot_download

    hub_id = spec["hub_id"]
    revision = spec.get("revision") or resolve_revision(hub_id, None, token)
    target = Path(out_dir) / "checkpoint"
    log.info("staging %s at %s into %s", hub_id, revision, target)
    with io.atomic_dir(target) as tmp:
        snapshot_download(
            hub_id,
            revision=revision,
            local_dir=tmp,
            allow_patterns=ALLOW,
            ignore_patterns=IGNORE,
            token=token,
        )
        shutil.rmtree(Path(tmp) / ".cache", ignore_errors=True)  # huggingface_hub's metadata
        files = {
            str(p.relative_to(tmp)): io.sha256_file(p) for p in sorted(Path(tmp).rglob("*")) if p.is_file()
        }
    weights = {k: v for k, v in files.items() if k.endswith(".safetensors")}
    if not weights:
        raise FileNotFoundError(f"model '{spec['name']}': {hub_id}@{revision} has no *.safetensors weights")
    return {
        "kind": "hub",
        "source": hub_id,
        "load_path": str(target),
        "revision": revision,
        "files": files,
        "weights_sha256": _combined(weights),
    }


def _combined(weights: dict[str, str]) -> str:
    if len(weights) == 1:
        return next(iter(weights.values()))
    lines = "".join(f"{k} {v}\n" for k, v in sorted(weights.items()))
    return hashlib.sha256(lines.encode()).hexdigest()
