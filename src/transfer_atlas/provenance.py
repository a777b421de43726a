"""Provenance: what made an output, recorded in every score file, adapter summary, matrix
folder and the report.

`record(settings_sha256)` returns a JSON object:
  transfer_atlas   package version
  git              {commit, dirty} of the checkout the package runs from (null outside git);
                   dirty = uncommitted changes to tracked files
  python           Python version
  packages         {torch, transformers, peft, datasets, lm_eval: version or null when not
                   installed} (read from package metadata: nothing is imported)
  device           "cuda: <GPU name>" or "cpu" when this process has loaded torch, else
                   "none (no model in this job)"
  settings_sha256  hash of the result settings that produced the output (see below)

Result-settings hashes (`transfer_atlas.settings.settings_hash`, seed left out so the seeds of
one cell share it): an adapter's covers the model, the source's training split settings and
the train result settings (+ dtype); a cell's covers the model, the target's settings, the
evaluate result settings (+ dtype) and its adapter's hash (null for the base model).
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from transfer_atlas import __version__, io
from transfer_atlas.config import model_spec, resolve_datasets
from transfer_atlas.settings import settings_hash

PACKAGES = ("torch", "transformers", "peft", "datasets", "lm_eval")
ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def git_state(root: str = str(ROOT)) -> dict | None:
    """{commit, dirty} of the git checkout at `root`, or None when it is not one."""
    try:
        commit = subprocess.run(
            ["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=20, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def device() -> str:
    torch = sys.modules.get("torch")
    if torch is None:
        return "none (no model in this job)"
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(torch.cuda.current_device())}"
    return "cpu"


def record(settings_sha256: str | None) -> dict:
    """The provenance object of an output made with result settings `settings_sha256`."""
    return {
        "transfer_atlas": __version__,
        "git": git_state(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "device": device(),
        "settings_sha256": settings_sha256,
    }


def adapter_settings_hash(config: dict, model: str, source: str, train_settings: dict) -> str:
    """Result-settings hash of an adapter (the seed is not part of it)."""
    from transfer_atlas.data import split_spec

    spec = split_spec(resolve_datasets(config)[source], "train")
    return settings_hash({"model": model_spec(config, model), "source": spec, "train": train_settings})


def cell_settings_hash(
    config: dict, model: str, target: str, evaluate_settings: dict, adapter_dir: str | None
) -> str:
    """Result-settings hash of a score cell; the adapter's hash is read from its summary."""
    adapter = None
    if adapter_dir:
        summary = io.read_json(Path(adapter_dir) / "train_summary.json")
        adapter = (summary.get("provenance") or {}).get("settings_sha256")
    spec = resolve_datasets(config)[target]
    return settings_hash(
        {
            "model": model_spec(config, model),
            "target": spec,
            "evaluate": evaluate_settings,
            "adapter": adapter,
        }
    )


def markdown(matrix_provenance: dict[str, str]) -> list[str]:
    """A `## Provenance` section: this job's record and each model's matrix settings hash
    (`matrix_provenance`: model -> results/matrix/{model}/provenance.json)."""
    rec = record(None)
    git = rec["git"] or {}
    commit = f"{git.get('commit', 'unknown')}{' (dirty)' if git.get('dirty') else ''}"
    versions = ", ".join(f"{k} {v}" for k, v in rec["packages"].items() if v)
    lines = [
        "## Provenance",
        "",
        f"- transfer-atlas {rec['transfer_atlas']}, git commit {commit}",
        f"- Python {rec['python']}; {versions}",
    ]
    for model, path in matrix_provenance.items():
        made = io.read_json(path)
        lines.append(
            f"- {model}: matrix from {len(made['cells'])} score files, result settings "
            f"{made['settings_sha256']}, made on {made['device']} at commit "
            f"{(made['git'] or {}).get('commit', 'unknown')}"
        )
    return lines + [""]
